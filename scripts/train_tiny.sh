#!/usr/bin/env bash
# Reproduce the embedded tiny RealCam (realcam/assets/tiny) with the project's own scripts, on 2 CPU cores.
#   WORK=dir   where scenes, latents and runs go (default ./tiny_work)
# Every step is deterministic in its seed; on the machine of docs/results.md the whole run took ~40 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-tiny_work}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# 1. procedural training scenes (400 scenes x 4 cameras x 33 frames, 64x64, random camera paths)
[ -d "$WORK/scenes" ] || $PY -m realcam synth --out "$WORK/scenes" --scenes 400 --cameras 4 --frames 33 --size 64 \
  --trajectories random --seed 1
# 2. the tiny VAE on those videos
$PY -m realcam train-vae --config configs/tiny_vae.yaml --data "$WORK/scenes" --out "$WORK/runs/tiny_vae"
# 3. latents for the DiT stages
[ -d "$WORK/latents" ] || $PY -m realcam preprocess --data "$WORK/scenes" --vae "$WORK/runs/tiny_vae/vae.safetensors" \
  --out "$WORK/latents" --frames 33
# 4. teacher, causal initialisation, DMD distillation (add `torchrun --nproc_per_node N -m` for more processes)
$PY -m realcam train-teacher --config configs/tiny_teacher.yaml --data "$WORK/latents" --out "$WORK/runs/tiny_teacher"
$PY -m realcam train-causal --config configs/tiny_causal.yaml --data "$WORK/latents" --out "$WORK/runs/tiny_causal" \
  --set model.init="$WORK/runs/tiny_teacher/teacher.safetensors"
$PY -m realcam distill --config configs/tiny_distill.yaml --data "$WORK/latents" --out "$WORK/runs/tiny_distill" \
  --set model.init="$WORK/runs/tiny_causal/student.safetensors" \
  --set distill.teacher="$WORK/runs/tiny_teacher/teacher.safetensors"
# 5. the embedded files
mkdir -p realcam/assets/tiny
cp "$WORK/runs/tiny_vae/vae.safetensors" realcam/assets/tiny/vae.safetensors
cp "$WORK/runs/tiny_teacher/teacher.safetensors" realcam/assets/tiny/teacher.safetensors
cp "$WORK/runs/tiny_distill/generator.safetensors" realcam/assets/tiny/student.safetensors
echo "done: realcam/assets/tiny"
