"""The paper's claims as paired differences over the benchmark's cases (docs/results.md, "World v2: camera tokens"):
interleave vs prefix teacher, chunk 3 vs chunk 1 causal initialisation, student vs teacher, at 1× and 2× length.

    python scripts/paired_claims.py EVAL.json     (from `python -m realcam eval` with the variants teacher_step800,
                                                   prefix_step800, causal_chunk3 and causal_chunk1)
"""
import json
import sys

from realcam.demo import bootstrap_interval
d = json.load(open(sys.argv[1]))
def paired(a, b, key):
    v = [c[key][a] - c[key][b] for c in d["cases"]]
    lo, hi = bootstrap_interval(v)
    return f"{sum(v)/len(v):.2f} [{lo:.2f}, {hi:.2f}] (n={len(v)})"
for key in ("psnr_1x", "psnr_2x"):
    print(key, "interleave@800 − prefix@800:", paired("teacher_step800", "prefix_step800", key))
    print(key, "chunk3 − chunk1 (causal init):", paired("causal_chunk3", "causal_chunk1", key))
    print(key, "student − teacher:", paired("student", "teacher", key))
