#!/usr/bin/env bash
# Reproduce the first tiny RealCam, trained on world v1 (realcam/assets/tiny; the embedded model before world v2),
# with the project's own scripts, on 2 CPU cores.
#   WORK=dir   where scenes, latents and runs go (default ./tiny_work)
# Every step is deterministic in its seed (a run that is stopped and started again resumes exactly where it was).
# Timings of the run behind docs/results.md are there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-tiny_work}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# 1. procedural scenes, 33 frames at 64x64 on random camera paths:
#    - for the VAE: 400 scenes x 4 cameras (seed 1), every camera from its own start pose;
#    - for the DiT: 400 other scenes (seed 2) where cameras 1-3 share their start pose (pairs whose trajectory
#      starts at the identity, as at inference) and camera 4 starts elsewhere (large view changes).
[ -d "$WORK/scenes_vae" ] || $PY -m realcam synth --out "$WORK/scenes_vae" --scenes 400 --cameras 4 --frames 33 \
  --size 64 --trajectories random --seed 1
[ -d "$WORK/scenes" ] || $PY -m realcam synth --out "$WORK/scenes" --scenes 400 --cameras 4 --frames 33 --size 64 \
  --trajectories random --shared-start 3 --seed 2
# 2. the tiny VAE
$PY -m realcam train-vae --config configs/tiny_vae.yaml --data "$WORK/scenes_vae" --out "$WORK/runs/tiny_vae"
# 3. latents for the DiT stages
[ -d "$WORK/latents" ] || $PY -m realcam preprocess --data "$WORK/scenes" --vae "$WORK/runs/tiny_vae/vae.safetensors" \
  --out "$WORK/latents" --frames 33
# 4. teacher (stopped once at step 2000 to keep that snapshot as the ablations' matched baseline; the
#    second call resumes exactly), causal initialisation, DMD distillation
#    (add `torchrun --nproc_per_node N -m` instead of `-m` for more processes)
T="$WORK/runs/tiny_teacher"
if [ ! -f "$T/teacher_step2000.safetensors" ]; then
  $PY -m realcam train-teacher --config configs/tiny_teacher.yaml --data "$WORK/latents" --out "$T" --set steps=2000
  cp "$T/teacher.safetensors" "$T/teacher_step2000.safetensors"
fi
$PY -m realcam train-teacher --config configs/tiny_teacher.yaml --data "$WORK/latents" --out "$T"
$PY -m realcam train-causal --config configs/tiny_causal.yaml --data "$WORK/latents" --out "$WORK/runs/tiny_causal" \
  --set model.init="$T/teacher.safetensors"
$PY -m realcam distill --config configs/tiny_distill.yaml --data "$WORK/latents" --out "$WORK/runs/tiny_distill" \
  --set model.init="$WORK/runs/tiny_causal/student.safetensors" --set distill.teacher="$T/teacher.safetensors"
# 5. the embedded files
mkdir -p realcam/assets/tiny
cp "$WORK/runs/tiny_vae/vae.safetensors" realcam/assets/tiny/vae.safetensors
cp "$T/teacher.safetensors" realcam/assets/tiny/teacher.safetensors
cp "$WORK/runs/tiny_distill/generator.safetensors" realcam/assets/tiny/student.safetensors
echo "done: realcam/assets/tiny"
