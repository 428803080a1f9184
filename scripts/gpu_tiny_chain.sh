#!/usr/bin/env bash
# The embedded chain's student stages run longer on one GPU (docs/results.md, "World v2: a longer student on a GPU"):
# the training set made on the device (`synth-latents`: the 960 DiT scenes of scripts/train_world_v2.sh step 3 with
# their 4 m pixel guides, and the guides through the depth the source's motion shows when the embedded teacher reads
# them, or through the depth its network reads when it carries one, no video files), then, from the embedded teacher, the causal initialisation (chunk 3) and DMD
# with step 6n's configs and settings but more steps; then either, with TEACHER_STEPS, the embedded teacher trained
# that many steps more on the same data (its own settings: step 6n's teacher stage) and DMD of the long causal
# initialisation from that teacher (docs/results.md, "World v2: a student trained on swept guides"), or, if time is
# left, the long chain's two stages with the embedded chain's own steps (600 and 200) on the same data, as the matched
# control.
#   scripts/gpu_tiny_chain.sh OUT [SCENES] [CAUSAL_STEPS] [DMD_STEPS] [SECONDS] [TEACHER_STEPS]
#     defaults: 960 scenes, 1,800 causal steps, 800 DMD steps, a 540 s budget for the whole script, no teacher stage
# Each chain's student ends as the embedded one did: after DMD its guide gate alone is re-taught on the same data
# (GATE_STEPS, default 300; docs/results.md, "World v2: the swept-guide student finished on the CPU"), or, when no
# time is left for that, the DMD generator is the student.
# Each stage's steps are cut (to a multiple of 50) when the budget would not hold them at the step times measured on
# an H200 (docs/benchmarks.md; the gate's, not measured there, assumed no dearer than a causal step): what was run is
# in each run's config.json and the summary. OUT receives only the
# weights, the logs and a summary (a device run brings back 8 files); the data and checkpoints go to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
OUT=${1:?usage: scripts/gpu_tiny_chain.sh OUT [SCENES] [CAUSAL_STEPS] [DMD_STEPS] [SECONDS] [TEACHER_STEPS]}
SCENES=${2:-960}
CAUSAL=${3:-1800}
DMD=${4:-800}
BUDGET=${5:-540}
TEACHER=${6:-0}
# seconds per step on an H200 at the configs' batches (docs/benchmarks.md, "The tiny model on the GPU"), with a margin
CAUSAL_S=${CAUSAL_S:-0.06}
DMD_S=${DMD_S:-0.26}
TEACHER_S=${TEACHER_S:-0.07}
GATE=${GATE_STEPS:-300}
GATE_S=${GATE_S:-0.06}
START=$SECONDS
W=realcam/assets/world_v2
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DATA="$TMP/latents"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
fit() {  # wanted seconds-per-step reserve-seconds: the most steps (at most wanted; a multiple of 50 from 50 up) that
  #      leave the reserve inside the budget
  "$PY" -c "import sys; w, s, r, left = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
n = min(w, int((left - r) / s))
print(max(n // 50 * 50 if w >= 50 else n, 0))" "$1" "$2" "$3" "$((BUDGET - (SECONDS - START)))"
}
calc() { "$PY" -c "print(round($1))"; }
GATE_T=$(calc "$GATE * $GATE_S")   # the seconds a student's gate stage is planned to take, kept in every reserve
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', '| torch', torch.__version__)" | tee -a "$SUMMARY"
# the planes the embedded teacher sweeps for its guide (conditioning.pixel_guide_sweep) and the penalties it aggregates
# their costs with (pixel_guide_sweep_smooth): its students train on swept guides where the source's path is given, so
# the data holds them too, swept alike
sweep_setting() {  # name: a conditioning list of the embedded teacher, comma-separated
  "$PY" -c "import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f:
    print(','.join(repr(float(d)) for d in json.loads(f.metadata()['conditioning']).get(sys.argv[2], [])))" \
  $W/teacher.safetensors "$1"
}
SWEEP=$(sweep_setting pixel_guide_sweep)
SMOOTH=$(sweep_setting pixel_guide_sweep_smooth)
# and which source frames it draws that guide from (conditioning.pixel_guide_views; "first" for files before it)
setting() {  # name default: a conditioning setting of the embedded teacher
  "$PY" -c "import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f:
    print(json.loads(f.metadata()['conditioning']).get(sys.argv[2], sys.argv[3]))" $W/teacher.safetensors "$1" "$2"
}
VIEWS=$(setting pixel_guide_views first)
# a teacher that carries a depth network (pixel_guide_depth_net) draws its guide through that network's depth, with the
# source's path and without it: the data is drawn through the same network (taken from the teacher), sweeping nothing
DEPTH=()
if [ "$(setting pixel_guide_depth_net 0)" != 0 ]; then
  SMOOTH=""
  DEPTH=(--guide-sweep-depth net --guide-depth-net $W/teacher.safetensors)
fi
t=$SECONDS
"$PY" -m realcam synth-latents --out "$DATA" --vae $W/vae.safetensors --scenes "$SCENES" --seed 2 --shared-start 3 \
  --trajectories random --world v2 --guide-depth 4 --guide-fov 60 ${SWEEP:+--guide-sweep "$SWEEP"} \
  ${SMOOTH:+--guide-sweep-smooth "$SMOOTH"} ${SWEEP:+--guide-views "$VIEWS"} ${DEPTH[@]+"${DEPTH[@]}"} \
  > "$TMP/data.log" 2>&1 \
  || { tail -n 20 "$TMP/data.log"; exit 1; }
say "data: $SCENES scenes in $((SECONDS - t)) s"
FS=(--data "$DATA" --set source_camera_dropout=0.3 --set same_camera_share=0.15 --set same_camera_withheld=never)
chain() {  # name causal-steps dmd-steps reserve-seconds logs: the causal initialisation and DMD (their steps cut to
  #        fit the budget, the reserve kept), weights (and, with logs=1, logs) into OUT
  local name=$1 cs ds t
  cs=$(fit "$2" "$CAUSAL_S" "$(calc "$4 + $3 * $DMD_S + $GATE_T")")
  [ "$cs" -ge 1 ] || { say "$name: no time left for the causal initialisation"; return 1; }
  t=$SECONDS
  "$PY" -m realcam train-causal --config configs/world_v2_causal.yaml "${FS[@]}" --out "$TMP/${name}_causal" --steps "$cs" \
    --set model.init=$W/teacher.safetensors --set causal.chunk=3 --set guide_gate_weight=1.0 \
    > "$TMP/${name}_causal.log" 2>&1 || { tail -n 20 "$TMP/${name}_causal.log"; return 1; }
  cp "$TMP/${name}_causal/student.safetensors" "$OUT/${name}_causal.safetensors"
  [ "$5" = 1 ] && cp "$TMP/${name}_causal/log.jsonl" "$OUT/${name}_causal.jsonl"
  say "$name: causal initialisation $cs steps in $((SECONDS - t)) s"
  ds=$(fit "$3" "$DMD_S" "$(calc "$4 + $GATE_T")")
  [ "$ds" -ge 1 ] || { say "$name: no time left for DMD"; return 1; }
  t=$SECONDS
  "$PY" -m realcam distill --config configs/world_v2_distill.yaml "${FS[@]}" --out "$TMP/${name}_distill" --steps "$ds" \
    --set model.init="$TMP/${name}_causal/student.safetensors" --set distill.teacher=$W/teacher.safetensors \
    > "$TMP/${name}_distill.log" 2>&1 || { tail -n 20 "$TMP/${name}_distill.log"; return 1; }
  cp "$TMP/${name}_distill/generator.safetensors" "$OUT/${name}_student.safetensors"
  [ "$5" = 1 ] && cp "$TMP/${name}_distill/log.jsonl" "$OUT/${name}_distill.jsonl"
  say "$name: DMD $ds steps in $((SECONDS - t)) s"
  reteach_gate "$name" "$4"
}
reteach_gate() {  # name reserve-seconds: the guide gate alone of OUT/<name>_student.safetensors (a DMD generator)
  #               re-taught on the data (its steps cut to fit the budget, the reserve kept), written in its place
  local name=$1 gs t
  gs=$(fit "$GATE" "$GATE_S" "$2")
  [ "$gs" -ge 1 ] || { say "$name: no time left to re-teach the gate (the student is the DMD generator)"; return 0; }
  t=$SECONDS
  "$PY" -m realcam train-causal --config configs/world_v2_causal.yaml "${FS[@]}" --out "$TMP/${name}_gate" --steps "$gs" \
    --set model.init="$OUT/${name}_student.safetensors" --set guide_gate_weight=1.0 \
    --set model.trainable=guide_gate --set optim.lr=0.001 --set optim.warmup_steps=20 \
    > "$TMP/${name}_gate.log" 2>&1 || { tail -n 20 "$TMP/${name}_gate.log"; return 1; }
  cp "$TMP/${name}_gate/student.safetensors" "$OUT/${name}_student.safetensors"
  say "$name: the student's gate re-taught $gs steps in $((SECONDS - t)) s"
}
# the long chain keeps 20 s in hand (and, with a teacher stage, that stage's time at its steps); the control (the
# embedded chain's 600 + 200 steps, or fewer if asked for fewer) runs only without a teacher stage and only if it fits
LONG_RESERVE=20
[ "$TEACHER" -gt 0 ] && LONG_RESERVE=$(calc "20 + $TEACHER * $TEACHER_S + $DMD * $DMD_S + $GATE_T")
chain long "$CAUSAL" "$DMD" "$LONG_RESERVE" 1
if [ "$TEACHER" -gt 0 ]; then
  # the embedded teacher's own settings (the checkpoint's conditioning: model.conditioning_overrides emptied) and its
  # stage's (step 6n of scripts/train_world_v2.sh): lr 3e-4 restarted, guide embedding and gate ×3, the gate term
  ts=$(fit "$TEACHER" "$TEACHER_S" "$(calc "10 + $DMD * $DMD_S + $GATE_T")")
  [ "$ts" -ge 1 ] || { say "teacher: no time left"; exit 1; }
  t=$SECONDS
  "$PY" -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml "${FS[@]}" --out "$TMP/teacher" --steps "$ts" \
    --set model.init=$W/teacher.safetensors --set 'model.conditioning_overrides={}' --set optim.lr=0.0003 \
    --set 'optim.lr_scale={"guide_embedding.": 3, "guide_gate.": 3}' --set guide_gate_weight=1.0 \
    > "$TMP/teacher.log" 2>&1 || { tail -n 20 "$TMP/teacher.log"; exit 1; }
  cp "$TMP/teacher/teacher.safetensors" "$OUT/teacher.safetensors"
  cp "$TMP/teacher/log.jsonl" "$OUT/teacher.jsonl"
  say "teacher: $ts steps in $((SECONDS - t)) s"
  ds=$(fit "$DMD" "$DMD_S" "$(calc "5 + $GATE_T")")
  [ "$ds" -ge 1 ] || { say "teacher_student: no time left for DMD"; exit 1; }
  t=$SECONDS
  "$PY" -m realcam distill --config configs/world_v2_distill.yaml "${FS[@]}" --out "$TMP/teacher_distill" --steps "$ds" \
    --set model.init="$TMP/long_causal/student.safetensors" --set distill.teacher="$TMP/teacher/teacher.safetensors" \
    > "$TMP/teacher_distill.log" 2>&1 || { tail -n 20 "$TMP/teacher_distill.log"; exit 1; }
  cp "$TMP/teacher_distill/generator.safetensors" "$OUT/teacher_student.safetensors"
  say "teacher_student: DMD $ds steps from the long causal initialisation in $((SECONDS - t)) s"
  reteach_gate teacher 5
else
  CC=$(( CAUSAL < 600 ? CAUSAL : 600 )); CD=$(( DMD < 200 ? DMD : 200 ))
  if [ "$(fit "$CC" "$CAUSAL_S" "$(calc "10 + $CD * $DMD_S + $GATE_T")")" -ge "$CC" ]; then
    chain control "$CC" "$CD" 10 0 || true
  else
    say "control: not run (too little time left)"
  fi
fi
say "total $((SECONDS - START)) s"
