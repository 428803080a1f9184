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
# With FRESH set (fresh-model's --set values, space-separated, e.g. FRESH="dim=256 ffn_dim=768 num_heads=8" or
# FRESH="patch_size=[1,1,1]"), a teacher of that shape is trained from the start instead (docs/results.md, "What limits
# the tiny model": depth ruled out, width, patch and longer training need a teacher trained from the start): fresh
# weights with the embedded teacher's settings and depth network (`fresh-model`), its step time measured on
# FRESH_PROBE steps (default 25), then as many steps at batch FRESH_BATCH (default 32; lr 2e-3, 100 warm-up steps,
# cosine, as world v2's first teacher; the gate term as step 6n's) as the budget holds (at most FRESH_STEPS) after a
# reserve for its student chain (causal initialisation and DMD from it, CAUSAL_STEPS and DMD_STEPS; 0 causal steps
# keep the whole budget for the teacher, its student chain then made on the CPU), whose step times are taken as the
# embedded shape's times the probe's ratio to the embedded teacher's at batch 32. Writes fresh_teacher.safetensors,
# its log, and the student files as the long chain's are named, prefixed fresh_.
#   FRESH="patch_size=[1,1,1]" scripts/gpu_tiny_chain.sh OUT 480 0 0 540
# With TEACHER_FILE (such a teacher brought back), the chains start from and distil against that file instead of the
# embedded teacher, and the data is drawn with its settings; for another shape, scale CAUSAL_S, DMD_S and GATE_S by
# the ratio the FRESH run's summary printed.
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
TEACHER32_S=${TEACHER32_S:-0.082}   # the embedded teacher's step at batch 32 on the H200 (78-86 ms)
FRESH=${FRESH:-}
FRESH_BATCH=${FRESH_BATCH:-32}
FRESH_PROBE=${FRESH_PROBE:-25}
FRESH_STEPS=${FRESH_STEPS:-100000}
STAGE_S=${STAGE_S:-40}              # a stage's start (the data read, the model built) on the H200: ~40 s at 960 scenes
if [ -n "$FRESH" ] && [ "$TEACHER" -gt 0 ]; then
  echo "FRESH trains a teacher from the start; TEACHER_STEPS trains the embedded one on: give one of them" >&2
  exit 2
fi
START=$SECONDS
W=realcam/assets/world_v2
# the teacher the student chains start from and distil against, whose settings the data is drawn with: the embedded
# one, or TEACHER_FILE (e.g. a fresh teacher an earlier run brought back; carry it to the device)
T=${TEACHER_FILE:-$W/teacher.safetensors}
[ -f "$T" ] || { echo "TEACHER_FILE $T: no such file" >&2; exit 2; }
if [ -n "${TEACHER_FILE:-}" ] && { [ -n "$FRESH" ] || [ "$TEACHER" -gt 0 ]; }; then
  echo "TEACHER_FILE is the chains' teacher as it is: leave FRESH and TEACHER_STEPS out" >&2
  exit 2
fi
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
left() { echo $((BUDGET - (SECONDS - START) + 15)); }   # a stage's hard limit: what the budget has left, and 15 s
GATE_T=$(calc "$GATE * $GATE_S")   # the seconds a student's gate stage is planned to take, kept in every reserve
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', '| torch', torch.__version__)" | tee -a "$SUMMARY"
# the planes the chains' teacher sweeps for its guide (conditioning.pixel_guide_sweep) and the penalties it aggregates
# their costs with (pixel_guide_sweep_smooth): its students train on swept guides where the source's path is given, so
# the data holds them too, swept alike
sweep_setting() {  # name: a conditioning list of the chains' teacher, comma-separated
  "$PY" -c "import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f:
    print(','.join(repr(float(d)) for d in json.loads(f.metadata()['conditioning']).get(sys.argv[2], [])))" \
  "$T" "$1"
}
SWEEP=$(sweep_setting pixel_guide_sweep)
SMOOTH=$(sweep_setting pixel_guide_sweep_smooth)
# and which source frames it draws that guide from (conditioning.pixel_guide_views; "first" for files before it)
setting() {  # name default: a conditioning setting of the chains' teacher
  "$PY" -c "import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f:
    print(json.loads(f.metadata()['conditioning']).get(sys.argv[2], sys.argv[3]))" "$T" "$1" "$2"
}
VIEWS=$(setting pixel_guide_views first)
# a teacher that carries a depth network (pixel_guide_depth_net) draws its guide through that network's depth, with the
# source's path and without it: the data is drawn through the same network (taken from the teacher), sweeping nothing
DEPTH=()
if [ "$(setting pixel_guide_depth_net 0)" != 0 ]; then
  SMOOTH=""
  DEPTH=(--guide-sweep-depth net --guide-depth-net "$T")
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
  timeout "$(left)" "$PY" -m realcam train-causal --config configs/world_v2_causal.yaml "${FS[@]}" --out "$TMP/${name}_causal" --steps "$cs" \
    --set model.init="$T" --set causal.chunk=3 --set guide_gate_weight=1.0 \
    > "$TMP/${name}_causal.log" 2>&1 || { tail -n 20 "$TMP/${name}_causal.log"; return 1; }
  cp "$TMP/${name}_causal/student.safetensors" "$OUT/${name}_causal.safetensors"
  [ "$5" = 1 ] && cp "$TMP/${name}_causal/log.jsonl" "$OUT/${name}_causal.jsonl"
  say "$name: causal initialisation $cs steps in $((SECONDS - t)) s"
  ds=$(fit "$3" "$DMD_S" "$(calc "$4 + $GATE_T")")
  [ "$ds" -ge 1 ] || { say "$name: no time left for DMD"; return 1; }
  t=$SECONDS
  timeout "$(left)" "$PY" -m realcam distill --config configs/world_v2_distill.yaml "${FS[@]}" --out "$TMP/${name}_distill" --steps "$ds" \
    --set model.init="$TMP/${name}_causal/student.safetensors" --set distill.teacher="$T" \
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
  timeout "$(left)" "$PY" -m realcam train-causal --config configs/world_v2_causal.yaml "${FS[@]}" --out "$TMP/${name}_gate" --steps "$gs" \
    --set model.init="$OUT/${name}_student.safetensors" --set guide_gate_weight=1.0 \
    --set model.trainable=guide_gate --set optim.lr=0.001 --set optim.warmup_steps=20 \
    > "$TMP/${name}_gate.log" 2>&1 || { tail -n 20 "$TMP/${name}_gate.log"; return 1; }
  cp "$TMP/${name}_gate/student.safetensors" "$OUT/${name}_student.safetensors"
  say "$name: the student's gate re-taught $gs steps in $((SECONDS - t)) s"
}
if [ -n "$FRESH" ]; then
  read -ra SHAPE <<< "$FRESH"
  SETS=()
  for v in "${SHAPE[@]}"; do SETS+=(--set "$v"); done
  "$PY" -m realcam fresh-model --like "$T" "${SETS[@]}" --out "$TMP/fresh.safetensors" | tee -a "$SUMMARY"
  FT=(--config configs/world_v2_teacher_warp.yaml "${FS[@]}" --set model.init="$TMP/fresh.safetensors"
      --set 'model.conditioning_overrides={}' --set optim.lr=0.002 --set optim.warmup_steps=100
      --set batch_size="$FRESH_BATCH" --set guide_gate_weight=1.0)
  t=$SECONDS
  timeout "$(left)" "$PY" -m realcam train-teacher "${FT[@]}" --out "$TMP/probe" --steps "$FRESH_PROBE" --set log_every=1 \
    > "$TMP/probe.log" 2>&1 || { tail -n 20 "$TMP/probe.log"; exit 1; }
  # the median step after the first fifth (compilation, allocator warm-up)
  FRESH_S=$("$PY" -c "import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(statistics.median(r['step_time_s'] for r in rows[len(rows) // 5:]))" "$TMP/probe/log.jsonl")
  R=$("$PY" -c "print(round(max($FRESH_S / $TEACHER32_S, 1.0), 2))")
  say "fresh teacher ($FRESH, batch $FRESH_BATCH): $FRESH_S s a step ($FRESH_PROBE-step probe, $((SECONDS - t)) s in all); the student stages taken as ${R}x the embedded shape's"
  CAUSAL_S=$("$PY" -c "print($CAUSAL_S * $R)"); DMD_S=$("$PY" -c "print($DMD_S * $R)"); GATE_S=$("$PY" -c "print($GATE_S * $R)")
  GATE_T=$(calc "$GATE * $GATE_S")
  RESERVE=$(calc "$STAGE_S + 10")
  [ "$CAUSAL" -gt 0 ] && RESERVE=$(calc "4 * $STAGE_S + 10 + $CAUSAL * $CAUSAL_S + $DMD * $DMD_S + $GATE_T")
  ts=$(fit "$FRESH_STEPS" "$FRESH_S" "$RESERVE")
  [ "$ts" -ge 1 ] || { say "fresh teacher: no time left"; exit 1; }
  t=$SECONDS
  if ! timeout "$(left)" "$PY" -m realcam train-teacher "${FT[@]}" --out "$TMP/fresh_teacher" --steps "$ts" \
      > "$TMP/fresh_teacher.log" 2>&1; then
    # stopped (the budget's hard limit, or an error): keep its last checkpoint, whose step the file's name says
    tail -n 20 "$TMP/fresh_teacher.log"
    last=$(ls -d "$TMP"/fresh_teacher/checkpoints/step_* 2>/dev/null | sort | tail -n 1)
    [ -n "$last" ] && cp "$last/teacher.safetensors" "$OUT/fresh_teacher_$(basename "$last").safetensors" \
      && cp "$TMP/fresh_teacher/log.jsonl" "$OUT/fresh_teacher.jsonl" \
      && say "fresh teacher: stopped after $((SECONDS - t)) s of $ts steps; its last checkpoint kept ($(basename "$last"))"
    exit 1
  fi
  cp "$TMP/fresh_teacher/teacher.safetensors" "$OUT/fresh_teacher.safetensors"
  cp "$TMP/fresh_teacher/log.jsonl" "$OUT/fresh_teacher.jsonl"
  say "fresh teacher: $ts steps in $((SECONDS - t)) s"
  T="$TMP/fresh_teacher/teacher.safetensors"
  if [ "$CAUSAL" -gt 0 ]; then
    chain fresh "$CAUSAL" "$DMD" 10 1 || true
  fi
  say "total $((SECONDS - START)) s"
  exit 0
fi
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
