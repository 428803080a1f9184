"""The paper's claims as paired differences over the benchmark's cases (docs/results.md, "World v2: camera tokens"):
interleave vs prefix teacher, chunk 3 vs chunk 1 causal initialisation, student vs teacher (PSNR at 1× and 2×
length), and LoopAug vs the same teacher without it (loop closure |last − first frame| on the out-and-back cases,
lower is better, and PSNR on them).

    python scripts/paired_claims.py EVAL.json     (from `python -m realcam eval` with some of the variants
                                                   teacher_step800, prefix_step800, loopaug_step800, causal_chunk3,
                                                   causal_chunk1; a comparison whose methods are missing is skipped)
"""
from __future__ import annotations

import json
import sys

from realcam.demo import bootstrap_interval

LENGTHS = ("psnr_1x", "psnr_2x")
LOOPS = ("loop_l1", "psnr_loop")
COMPARISONS = (("interleave@800 − prefix@800", "teacher_step800", "prefix_step800", LENGTHS),
               ("chunk3 − chunk1 (causal init)", "causal_chunk3", "causal_chunk1", LENGTHS),
               ("student − teacher", "student", "teacher", LENGTHS),
               ("loopaug@800 − teacher@800", "loopaug_step800", "teacher_step800", LOOPS))


def main(path: str) -> None:
    cases = json.loads(open(path).read())["cases"]
    for label, a, b, keys in COMPARISONS:
        for key in keys:
            if not all(key in c and a in c[key] and b in c[key] for c in cases):
                print(f"{key} {label}: skipped ({a} or {b} not in {path})")
                continue
            diff = [c[key][a] - c[key][b] for c in cases]
            lo, hi = bootstrap_interval(diff)
            print(f"{key} {label}: {sum(diff) / len(diff):.4g} [{lo:.4g}, {hi:.4g}] (n={len(diff)})")


if __name__ == "__main__":
    main(sys.argv[1])
