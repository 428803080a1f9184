#!/usr/bin/env bash
# Step time of every stage of the embedded tiny chain (scripts/train_world_v2.sh, step 6n: the teacher with the gate
# term, the chunk-3 causal initialisation, DMD), with its committed configs and settings, on the device torch picks (a
# GPU when there is one), at several batch sizes: what sizes a GPU run of the chain (docs/benchmarks.md, "Tiny chain").
#   scripts/gpu_tiny_steps.sh DATA [STEPS] [BATCH...]   DATA: latents with pixel guides (preprocess + pixel-guides);
#                                                       default 30 steps a stage, batches 8 32
# Starts from the embedded weights (realcam/assets/world_v2, read with their one-plane guide) and prints the median
# step time of each stage and batch, the first 5 steps left out (warm-up).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
DATA=${1:?usage: scripts/gpu_tiny_steps.sh DATA [STEPS] [BATCH...]}
STEPS=${2:-30}
if [ $# -gt 2 ]; then BATCHES=("${@:3}"); else BATCHES=(8 32); fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT   # its runs are measured, not kept (a failed stage too)
# the embedded weights with their one-plane guide (their depth network taken out, set-guide-depth-net --net none, then
# set-guide-sweep --planes none): DATA holds one-plane guides, and the swept guide changes what a step reads, not what
# it costs
W="$OUT/weights"
for m in teacher student; do
  "$PY" -m realcam set-guide-depth-net --weights realcam/assets/world_v2/$m.safetensors --net none --out "$W/$m.safetensors" \
    > /dev/null
  "$PY" -m realcam set-guide-sweep --weights "$W/$m.safetensors" --planes none > /dev/null
done
COMMON=(--data "$DATA" --steps "$STEPS" --set checkpoint_every=100000 --set log_every=1 --set source_camera_dropout=0.3
        --set same_camera_share=0.15 --set same_camera_withheld=never)
stage() {  # name batch command args...: runs one stage, prints its median step time (its log's tail if it fails)
  local name=$1 b=$2; shift 2
  if ! "$PY" -m realcam "$@" --set batch_size="$b" --out "$OUT/$name$b" > "$OUT/$name$b.log" 2>&1; then
    tail -n 20 "$OUT/$name$b.log"; exit 1
  fi
  "$PY" -c "import json,statistics,sys; t=[json.loads(l)['step_time_s'] for l in open(sys.argv[1])][5:]
print(f'{sys.argv[2]} batch {sys.argv[3]}: {statistics.median(t)*1000:.0f} ms/step')" "$OUT/$name$b/log.jsonl" "$name" "$b"
}
for b in "${BATCHES[@]}"; do
  stage teacher "$b" train-teacher --config configs/world_v2_teacher_warp.yaml "${COMMON[@]}" \
    --set model.init=$W/teacher.safetensors --set model.conditioning_overrides.source_warp_first=true \
    --set model.conditioning_overrides.pixel_guide_depth=4.0 --set model.conditioning_overrides.pixel_guide_skip=true \
    --set guide_gate_weight=1.0
  stage causal_init "$b" train-causal --config configs/world_v2_causal.yaml "${COMMON[@]}" \
    --set model.init=$W/teacher.safetensors --set causal.chunk=3 --set guide_gate_weight=1.0
  stage dmd "$b" distill --config configs/world_v2_distill.yaml "${COMMON[@]}" \
    --set model.init=$W/student.safetensors --set distill.teacher=$W/teacher.safetensors
done
head -n 1 "$OUT/teacher${BATCHES[0]}.log"   # the device and what was trained
