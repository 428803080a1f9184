#!/usr/bin/env bash
# The device benchmark: on one H100/H200 (about 8 minutes) it measures the real-size student and writes a
# markdown table — Wan2.1-1.3B at 480x832 and Wan2.2-5B at 704x1280 streaming (first-chunk latency, steady
# ms/chunk, FPS with the full VAE and with the tiny decoder, peak memory, TFLOP/s, MFU), one real-size training
# step per stage with its memory, and bf16 vs fp32 drift (realcam/gpu_bench.py says how each is measured).
#   scripts/gpu_bench.sh --out runs/gpu_bench   # on the GPU machine; copy its table into docs/benchmarks.md
#   scripts/gpu_bench.sh --smoke             # the same code at tiny size on CPU (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" -m realcam gpu-bench "$@"
