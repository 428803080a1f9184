#!/usr/bin/env bash
# The world-v1 ablations of docs/results.md, each trained exactly like the main run except for one thing:
#   prefix    — the teacher with ReCamMaster's prefix conditioning instead of interleave (2,000 steps)
#   loopaug   — the teacher on LoopAug data (offline windows of loop-extended clips + the originals; 2,000 steps)
#   chunk1    — the causal initialisation with 1-latent-frame chunks instead of 3 (same steps, same teacher)
# Their matched baselines are the main run's teacher at step 2,000 (teacher_step2000.safetensors) and its
# causal initialisation (runs/tiny_causal/student.safetensors). Run after (or beside) scripts/train_world_v1.sh
# with the same WORK; the chunk-1 run waits for the main teacher.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-tiny_work}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
R="$WORK/runs"
wait_for() { while [ ! -f "$1" ]; do sleep 10; done; }
[ -d "$WORK/scenes_loopaug" ] || $PY -m realcam loopaug --data "$WORK/scenes" --out "$WORK/scenes_loopaug" --length 33 \
  --windows 1 --include-original
wait_for "$WORK/latents/index.json"     # written last by preprocess in scripts/train_world_v1.sh (after the VAE)
[ -d "$WORK/latents_loopaug" ] || $PY -m realcam preprocess --data "$WORK/scenes_loopaug" \
  --vae "$R/tiny_vae/vae.safetensors" --out "$WORK/latents_loopaug" --frames 33
$PY -m realcam train-teacher --config configs/tiny_teacher.yaml --data "$WORK/latents_loopaug" --out "$R/ablate_loopaug" \
  --set steps=2000
$PY -m realcam train-teacher --config configs/tiny_teacher.yaml --data "$WORK/latents" --out "$R/ablate_prefix" \
  --set steps=2000 --set model.conditioning=prefix
wait_for "$R/tiny_teacher/checkpoints/step_0004000/state.json"
$PY -m realcam train-causal --config configs/tiny_causal.yaml --data "$WORK/latents" --out "$R/ablate_chunk1" \
  --set model.init="$R/tiny_teacher/teacher.safetensors" --set causal.chunk=1
echo "done: $R/ablate_{prefix,loopaug,chunk1}"
