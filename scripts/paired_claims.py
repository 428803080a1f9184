"""The paper's claims as paired differences over the benchmark's cases (docs/results.md, "World v2: camera tokens"):
interleave vs prefix teacher, chunk 3 vs chunk 1 causal initialisation, student vs teacher, at 1× and 2× length.

    python scripts/paired_claims.py EVAL.json     (from `python -m realcam eval` with the variants teacher_step800,
                                                   prefix_step800, causal_chunk3 and causal_chunk1)
"""
from __future__ import annotations

import json
import sys

from realcam.demo import bootstrap_interval

COMPARISONS = (("interleave@800 − prefix@800", "teacher_step800", "prefix_step800"),
               ("chunk3 − chunk1 (causal init)", "causal_chunk3", "causal_chunk1"),
               ("student − teacher", "student", "teacher"))


def main(path: str) -> None:
    cases = json.loads(open(path).read())["cases"]
    for key in ("psnr_1x", "psnr_2x"):
        for label, a, b in COMPARISONS:
            diff = [c[key][a] - c[key][b] for c in cases]
            lo, hi = bootstrap_interval(diff)
            print(f"{key} {label}: {sum(diff) / len(diff):.2f} [{lo:.2f}, {hi:.2f}] (n={len(diff)})")


if __name__ == "__main__":
    main(sys.argv[1])
