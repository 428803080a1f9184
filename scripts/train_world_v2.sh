#!/usr/bin/env bash
# The world-v2 tiny RealCam (docs/results.md, "World v2") with the project's own scripts, on 2 CPU cores.
#   WORK=dir   where scenes, latents and runs go (default ./v2_work)
# Every step is deterministic in its seed on one machine (on another, the CPU's sums differ in their last bits: step
# 15); a stopped run started again resumes exactly where it was.
# The VAE step is skipped when WORK/runs/v2_vae/vae.safetensors exists; set VAE=realcam/assets/world_v2/vae.safetensors
# to use the committed one instead of training it (68 min).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-v2_work}
R="$WORK/runs"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# 1. scenes: 320 for the VAE (seed 1, every camera from its own start), 320 for the DiT (seed 2, cameras 1-3 of a
#    scene share their first pose, camera 4 starts elsewhere); each written by two processes, one core each
synth() {  # out seed extra-args...
  local out=$1 seed=$2; shift 2
  [ -f "$out/.done" ] && return
  for k in 0 1; do
    OMP_NUM_THREADS=1 $PY -m realcam synth --out "$out" --scenes 160 --first $((k * 160)) --cameras 4 --frames 33 \
      --size 64 --trajectories random --seed "$seed" --world v2 "$@" > "$out.synth$k.log" 2>&1 &
  done
  wait
  touch "$out/.done"
}
mkdir -p "$R"
# 2. the VAE (configs/world_v2_vae.yaml: 10,000 steps, then resumed to 14,000 with the cosine restarted)
VAE=${VAE:-$R/v2_vae/vae.safetensors}
if [ ! -f "$VAE" ]; then
  synth "$WORK/vae_scenes" 1
  $PY -m realcam train-vae --config configs/world_v2_vae.yaml --data "$WORK/vae_scenes" --out "$R/v2_vae"
  $PY -m realcam train-vae --config configs/world_v2_vae.yaml --data "$WORK/vae_scenes" --out "$R/v2_vae" --steps 14000
fi
# 3. DiT latents: the first 320 scenes of seed 2 (grid teacher, ablations), and all 960 (the RoPE-positions stages)
synth "$WORK/dit_scenes" 2 --shared-start 3
[ -d "$WORK/dit_latents" ] || $PY -m realcam preprocess --data "$WORK/dit_scenes" --vae "$VAE" --out "$WORK/dit_latents" \
  --frames 33 > "$WORK/preprocess.log"
if [ ! -f "$WORK/dit_scenes_960/.done" ]; then       # scenes 320-959 of the same set, two processes of 320
  for k in 0 1; do
    OMP_NUM_THREADS=1 $PY -m realcam synth --out "$WORK/more_scenes" --scenes 320 --first $((320 + k * 320)) --cameras 4 \
      --frames 33 --size 64 --trajectories random --seed 2 --world v2 --shared-start 3 > "$WORK/more_scenes.synth$k.log" 2>&1 &
  done
  wait
  rm -rf "$WORK/dit_scenes_960" && mkdir -p "$WORK/dit_scenes_960"
  cp -r "$WORK"/dit_scenes/scene* "$WORK"/more_scenes/scene* "$WORK/dit_scenes_960/"
  touch "$WORK/dit_scenes_960/.done"
fi
[ -d "$WORK/dit_latents_960" ] || $PY -m realcam preprocess --data "$WORK/dit_scenes_960" --vae "$VAE" \
  --out "$WORK/dit_latents_960" --frames 33 > "$WORK/preprocess_960.log"
# 4. teacher (stopped once after step 800 to keep that snapshot as the matched baseline of the teacher ablations;
#    the second call resumes exactly), causal initialisation, DMD
T="$R/v2_teacher"
if [ ! -f "$T/teacher_step800.safetensors" ]; then
  $PY -m realcam train-teacher --config configs/world_v2_teacher.yaml --data "$WORK/dit_latents" --out "$T" --until 800
  cp "$T/teacher.safetensors" "$T/teacher_step800.safetensors"
fi
$PY -m realcam train-teacher --config configs/world_v2_teacher.yaml --data "$WORK/dit_latents" --out "$T"
# the grid teacher fine-tuned with RoPE positions from the camera rays and the source's own cameras (two threads,
# as the run behind docs/results.md), then the causal initialisation and DMD from it, on the 960 scenes; every
# stage withholds the source's path on 30 % of the pairs (a still camera, what inference passes without one)
RT="$R/v2_rope_teacher"
DROP="source_camera_dropout=0.3"
$PY -m realcam train-teacher --config configs/world_v2_teacher_rope.yaml --data "$WORK/dit_latents_960" \
  --out "$RT" --set model.init="$T/teacher.safetensors" --set "$DROP"
$PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" --out "$R/v2_causal" \
  --set model.init="$RT/teacher.safetensors" --set "$DROP"
$PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" --out "$R/v2_distill" \
  --set model.init="$R/v2_causal/student.safetensors" --set distill.teacher="$RT/teacher.safetensors" --set "$DROP"
# 5. the RoPE teacher trained 800 more steps reading the source reprojected into the target cameras (source_warp), and,
#    matched, 800 more steps without it (the control: what the steps alone give); one thread each, side by side
( export OMP_NUM_THREADS=1
  $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_warp_teacher" --set model.init="$RT/teacher.safetensors" --set "$DROP" ) &
A=$!
( export OMP_NUM_THREADS=1
  $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_more_teacher" --set model.init="$RT/teacher.safetensors" --set "$DROP" \
    --set 'model.conditioning_overrides.source_warp=[]' ) &
B=$!
wait "$A"; wait "$B"
W8="$R/v2_warp_teacher"
$PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" --out "$R/v2_warp_causal" \
  --set model.init="$W8/teacher.safetensors" --set "$DROP"
$PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" --out "$R/v2_warp_distill" \
  --set model.init="$R/v2_warp_causal/student.safetensors" --set distill.teacher="$W8/teacher.safetensors" --set "$DROP"
# 5b. the source_warp teacher resumed from 800 to 2,400 steps (a copy of its folder; the cosine restarts over 2,400;
#     two threads, 39 min), then the causal initialisation and DMD again from it (embedded until 2026-12-03)
# 5c. that teacher resumed once more, to 4,800 steps (two threads, 60 min), and the causal initialisation and DMD
#     again from it (docs/results.md, "World v2: 4,800 teacher steps"; embedded until the chain of 6e)
# 5d. and once more, to 7,200 steps (docs/results.md, "World v2: 7,200 teacher steps"; not embedded)
resumed_chain() {  # from-teacher-folder steps: teacher runs/v2_warp_teacher<steps>, student v2_warp_distill<steps>
  local from=$1 steps=$2 t="$R/v2_warp_teacher$2"
  [ -d "$t" ] || cp -r "$from" "$t"
  $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" \
    --out "$t" --steps "$steps" --set model.init="$RT/teacher.safetensors" --set "$DROP"
  $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_warp_causal$steps" --set model.init="$t/teacher.safetensors" --set "$DROP"
  $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" --out "$R/v2_warp_distill$steps" \
    --set model.init="$R/v2_warp_causal$steps/student.safetensors" --set distill.teacher="$t/teacher.safetensors" --set "$DROP"
}
WT="$R/v2_warp_teacher2400"
WT4="$R/v2_warp_teacher4800"
resumed_chain "$W8" 2400
resumed_chain "$WT" 4800
resumed_chain "$WT4" 7200
# weights folders for demo/eval (--weights): "weights" (written in step 6r) = the chain of step 6p reading its pixel guide
# through the depth the source's motion shows (its gates re-taught in steps 6t and 6u, its guide drawn from the nearer
# source frame in step 6w: "weights_near", 1.5 times the gate's share of it taken in step 6x: "weights_strong", and up
# to 4 times where the guide's two views agree in step 6z: "weights_agree", drawn through a learned depth in step 8:
# "weights_net", its student trained on a GPU: step 6p); "weights_chain" (step 11; embedded until step 17): step 8's
# teacher and a student chain trained on guides drawn through that depth; "weights_960p_chain" (step 17) =
# realcam/assets/world_v2: the same chain on 960 scenes at step 11's passes;
# "weights_plane" = step 6p's chain with its one-plane guide (embedded until step 6r); "weights_warp4800" = the source_warp chain with its teacher at 4,800 steps (embedded
# until the chain of 6e replaced it on 2026-12-03); "weights_warp2400" = the same chain at 2,400 teacher steps
# (embedded until 4,800); "weights_warp800" = at 800 (embedded until 2026-12-02, "World v2: the source reprojected");
# "weights_rope" = the chain before it (behind "Which claims held")
readme() { echo "{\"made_by\": \"scripts/train_world_v2.sh ($1)\", \"world\": \"v2\", \"benchmark_amplitude\": 1.0}"; }
weights_folder() {  # folder teacher-run distill-run description: the v2 VAE with that teacher and student
  mkdir -p "$1"
  cp "$VAE" "$1/vae.safetensors"
  cp "$R/$2/teacher.safetensors" "$1/teacher.safetensors"
  cp "$R/$3/generator.safetensors" "$1/student.safetensors"
  readme "$4" > "$1/README.json"
}
W48="$WORK/weights_warp4800"
W24="$WORK/weights_warp2400"
weights_folder "$W48" v2_warp_teacher4800 v2_warp_distill4800 "the source_warp chain at 4,800 teacher steps"
weights_folder "$W24" v2_warp_teacher2400 v2_warp_distill2400 "the source_warp chain at 2,400 teacher steps"
weights_folder "$WORK/weights_warp800" v2_warp_teacher v2_warp_distill "the source_warp chain at 800 teacher steps"
weights_folder "$WORK/weights_rope" v2_rope_teacher v2_distill "the RoPE-positions chain"
# 6. ablations of the RoPE-positions chain ("Which claims held"), each exactly like it but for one thing:
#    chunk1  — the causal initialisation with 1-latent-frame chunks instead of 3 (same teacher, same steps)
#    rope_prefix, rope_loopaug — the RoPE-positions teacher stage (800 steps from the same grid teacher) with
#              ReCamMaster's prefix layout instead of interleave, or on LoopAug data (loop windows + the originals)
#    (these three in two processes of one thread each, as the runs behind docs/results.md), then
#    prefix, loopaug — the same two for the grid teacher, 800 steps on its schedule: matched by its step 800
( export OMP_NUM_THREADS=1
  $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_ablate_chunk1" --set model.init="$RT/teacher.safetensors" --set causal.chunk=1 --set "$DROP"
  $PY -m realcam train-teacher --config configs/world_v2_teacher_rope.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_ablate_rope_prefix" --set model.init="$T/teacher.safetensors" --set model.conditioning=prefix \
    --set "$DROP" ) &
A=$!
( export OMP_NUM_THREADS=1
  [ -d "$WORK/scenes_loopaug_960" ] || $PY -m realcam loopaug --data "$WORK/dit_scenes_960" --out "$WORK/scenes_loopaug_960" \
    --length 33 --windows 1 --include-original
  [ -d "$WORK/latents_loopaug_960" ] || $PY -m realcam preprocess --data "$WORK/scenes_loopaug_960" --vae "$VAE" \
    --out "$WORK/latents_loopaug_960" --frames 33 > "$WORK/preprocess_loopaug_960.log"
  $PY -m realcam train-teacher --config configs/world_v2_teacher_rope.yaml --data "$WORK/latents_loopaug_960" \
    --out "$R/v2_ablate_rope_loopaug" --set model.init="$T/teacher.safetensors" --set "$DROP" ) &
B=$!
wait "$A"; wait "$B"
$PY -m realcam train-teacher --config configs/world_v2_teacher.yaml --data "$WORK/dit_latents" \
  --out "$R/v2_ablate_prefix" --set model.conditioning=prefix --until 800
[ -d "$WORK/scenes_loopaug" ] || $PY -m realcam loopaug --data "$WORK/dit_scenes" --out "$WORK/scenes_loopaug" \
  --length 33 --windows 1 --include-original
[ -d "$WORK/latents_loopaug" ] || $PY -m realcam preprocess --data "$WORK/scenes_loopaug" --vae "$VAE" \
  --out "$WORK/latents_loopaug" --frames 33 > "$WORK/preprocess_loopaug.log"
$PY -m realcam train-teacher --config configs/world_v2_teacher.yaml --data "$WORK/latents_loopaug" \
  --out "$R/v2_ablate_loopaug" --until 800
# 6b. the same claims for the source_warp chain, each matched to it but for one thing (two processes of one
#    thread, as the runs behind docs/results.md, "Which claims held"):
#    warp_chunk1 — its causal initialisation with 1-latent-frame chunks (same 2,400-step teacher, same steps)
#    warp4800_chunk1 — the same from the 4,800-step teacher of step 5c (after the two, two threads)
#    warp_prefix, warp_loopaug — its 800-step source_warp stage (from the same RoPE teacher) with the prefix layout,
#              or on the LoopAug data of step 6; matched by that stage's own 800-step teacher
( export OMP_NUM_THREADS=1
  $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_ablate_warp_chunk1" --set model.init="$WT/teacher.safetensors" --set causal.chunk=1 --set "$DROP"
  $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_ablate_warp_prefix" --set model.init="$RT/teacher.safetensors" --set model.conditioning=prefix \
    --set "$DROP" ) &
A=$!
( export OMP_NUM_THREADS=1
  $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/latents_loopaug_960" \
    --out "$R/v2_ablate_warp_loopaug" --set model.init="$RT/teacher.safetensors" --set "$DROP" ) &
B=$!
wait "$A"; wait "$B"
$PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
  --out "$R/v2_ablate_warp4800_chunk1" --set model.init="$WT4/teacher.safetensors" --set causal.chunk=1 --set "$DROP"
# 6c. the 800-step source_warp stage with the guide embedding learning 3× or 10× faster than the rest (optim.lr_scale;
#    two processes of one thread, from the same RoPE teacher, matched by W8), then the 10× run resumed to 2,400 steps
#    (a copy of its folder, two threads, as WT; matched by WT): docs/results.md, "World v2: a faster-learning guide embedding"
G="$R/v2_warp_guide"
for m in 3 10; do
  ( export OMP_NUM_THREADS=1
    $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" \
      --out "$G$m" --set model.init="$RT/teacher.safetensors" --set "$DROP" --set "optim.lr_scale={\"guide_embedding.\": $m}" ) &
done
wait
[ -d "${G}10_2400" ] || cp -r "${G}10" "${G}10_2400"
$PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" --out "${G}10_2400" \
  --steps 2400 --set model.init="$RT/teacher.safetensors" --set "$DROP" --set 'optim.lr_scale={"guide_embedding.": 10}'
# 6d. more source_warp planes: the embedded teacher (WT4) trained 1,200 more steps reading the source through its own
#    4 planes or through 8 (those 4 and 1.5, 2.5, 3 and 5.5 m; the new planes' weights start at zero), at a restarted
#    learning rate of 3e-4 with the guide embedding ×3, everything else the same (two processes of one thread, 54 min):
#    docs/results.md, "World v2: more planes, and a clip paired with itself"
P=(--config configs/world_v2_teacher_warp.yaml --data "$WORK/dit_latents_960" --steps 1200 --set model.init="$WT4/teacher.safetensors"
   --set "$DROP" --set optim.lr=0.0003 --set 'optim.lr_scale={"guide_embedding.": 3}')
( export OMP_NUM_THREADS=1; $PY -m realcam train-teacher "${P[@]}" --out "$R/v2_planes4_teacher" ) &
( export OMP_NUM_THREADS=1; $PY -m realcam train-teacher "${P[@]}" --out "$R/v2_planes8_teacher" \
    --set 'model.conditioning_overrides.source_warp=[1.5,2.0,2.5,3.0,4.0,5.5,8.0,100000.0]' ) &
wait
# 6e. a clip paired with itself: the 4-plane run of 6d with 15 % of its pairs made of one clip and its own path
#    (same_camera_share; on such a pair whose source path is withheld both paths read as the still camera), two
#    threads, 30 min; then its causal initialisation and, beside it, the claims' chunk-1 ablation (1-latent-frame
#    chunks, same teacher, share and steps; two processes of one thread, 27 min), and DMD with the same share (10 min)
#    (docs/results.md, "World v2: more planes, and a clip paired with itself"). That section's first runs with this
#    share (v2_same15_*) kept the moving path on those withheld pairs: they are this step with
#    realcam/train/data.py of commit 9f1ae7f, and its step 7 benchmarked them.
S="same_camera_share=0.15"
student_chain() {  # name teacher-file option...: on the 960 scenes, the causal initialisation (chunk 3) beside the
  #                 chunk-1 ablation (two processes of one thread), then DMD (two threads), all with those options
  local name=$1 ts=$2 c out; shift 2
  for c in 3 1; do
    out="$R/v2_${name}_causal"; [ "$c" = 1 ] && out="$R/v2_ablate_${name}_chunk1"
    ( export OMP_NUM_THREADS=1; $PY -m realcam train-causal --config configs/world_v2_causal.yaml \
        --data "$WORK/dit_latents_960" --out "$out" --set model.init="$ts" --set causal.chunk="$c" "$@" ) &
  done
  wait
  OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_${name}_distill" --set model.init="$R/v2_${name}_causal/student.safetensors" --set distill.teacher="$ts" "$@"
}
self_pair_chain() {  # name extra-setting...: the teacher, causal inits (chunk 3 and 1) and DMD of step 6e
  local name=$1; shift
  local sets=(--set "$DROP" --set "$S") a
  for a in "$@"; do sets+=(--set "$a"); done
  $PY -m realcam train-teacher "${P[@]}" --out "$R/v2_${name}_teacher" "${sets[@]}"
  student_chain "$name" "$R/v2_${name}_teacher/teacher.safetensors" "${sets[@]}"
}
self_pair_chain same15s
TS="$R/v2_same15s_teacher/teacher.safetensors"
# 6f. the same with self-pairs that never go without their path (same_camera_withheld=never: the dropout then withholds
#    only pairs of two cameras; the same random stream, so the same pairs as 6e), same threads and times: the chain
#    embedded until step 6j (docs/results.md, "World v2: self-pairs that keep their path")
self_pair_chain same15n same_camera_withheld=never
W="$WORK/weights_same15n"   # embedded until step 6j; $WORK/weights_near (step 6w) is the embedded one
weights_folder "$W" v2_same15n_teacher v2_same15n_distill "the world_v2 configs in configs/, through world_v2_teacher_warp.yaml \
resumed to 4,800 steps, then 1,200 more with same_camera_share 0.15 and same_camera_withheld never (step 6f); its causal \
init and DMD with those settings"
# 6g. 6f's teacher with a third of the share (same_camera_share 0.05), teacher only (two threads, 32 min): docs/results.md,
#    "World v2: self-pairs that keep their path"
$PY -m realcam train-teacher "${P[@]}" --out "$R/v2_same05n_teacher" --set same_camera_share=0.05 \
  --set same_camera_withheld=never
# 6h. the source's first frame as a guide too (model.conditioning_overrides.source_warp_first, zero-initialised): 6f's
#    teacher trained 800 more steps with it and, matched, 800 more without it, 6f's settings otherwise, on 301 of the
#    960 DiT scenes (0-152 and 480-627: those made when the runs began); two processes of one thread, 38 min:
#    docs/results.md, "World v2: the source's first frame as a guide"
SUB="$WORK/dit_latents_301"
if [ ! -d "$SUB" ]; then
  rm -rf "$WORK/dit_scenes_301" && mkdir -p "$WORK/dit_scenes_301"
  for k in $(seq 0 152) $(seq 480 627); do cp -r "$WORK/dit_scenes_960/scene$k" "$WORK/dit_scenes_301/"; done
  $PY -m realcam preprocess --data "$WORK/dit_scenes_301" --vae "$VAE" --out "$SUB" --frames 33 > "$WORK/preprocess_301.log"
fi
P8=(--config configs/world_v2_teacher_warp.yaml --data "$SUB" --steps 800
    --set model.init="$R/v2_same15n_teacher/teacher.safetensors" --set "$DROP" --set optim.lr=0.0003
    --set 'optim.lr_scale={"guide_embedding.": 3}' --set "$S" --set same_camera_withheld=never)
( export OMP_NUM_THREADS=1; $PY -m realcam train-teacher "${P8[@]}" --out "$R/v2_same15n_more800_teacher" ) &
( export OMP_NUM_THREADS=1; $PY -m realcam train-teacher "${P8[@]}" --out "$R/v2_same15n_first800_teacher" \
    --set model.conditioning_overrides.source_warp_first=true ) &
wait
# 6i. the student chains of 6h's two teachers, 6f's settings, on the same 301 scenes: the causal initialisations from
#    the first-frame teacher and, matched, from the teacher trained as long without it (two processes of one thread),
#    then each chain's DMD (two threads): docs/results.md, "World v2: the source's first frame as a guide"
FS=(--set "$DROP" --set "$S" --set same_camera_withheld=never)
for n in first more; do
  ( export OMP_NUM_THREADS=1; $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$SUB" \
      --out "$R/v2_${n}_causal" --set model.init="$R/v2_same15n_${n}800_teacher/teacher.safetensors" \
      --set causal.chunk=3 "${FS[@]}" ) &
done
wait
for n in first more; do
  OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$SUB" --out "$R/v2_${n}_distill" \
    --set model.init="$R/v2_${n}_causal/student.safetensors" \
    --set distill.teacher="$R/v2_same15n_${n}800_teacher/teacher.safetensors" "${FS[@]}"
done
weights_folder "$WORK/weights_first" v2_same15n_first800_teacher v2_first_distill \
  "step 6i: the chain of step 6h's first-frame teacher, on 301 scenes"
weights_folder "$WORK/weights_more" v2_same15n_more800_teacher v2_more_distill \
  "step 6i: the chain of step 6h's control teacher (800 steps without the first frame), on 301 scenes"
# 6j. the first-frame chain on all 960 DiT scenes: step 6h's first-frame teacher run on them (two threads), then step
#    6i's causal initialisation beside its chunk-1 ablation (two processes of one thread) and DMD (two threads):
#    docs/results.md, "World v2: the source's first frame as a guide"
T960="$R/v2_first960_teacher/teacher.safetensors"   # P8 with the 960 scenes (the later --data wins)
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${P8[@]}" --data "$WORK/dit_latents_960" --out "$R/v2_first960_teacher" \
  --set model.conditioning_overrides.source_warp_first=true
student_chain first960 "$T960" "${FS[@]}"
weights_folder "$WORK/weights_first960" v2_first960_teacher v2_first960_distill "the world_v2 configs in configs/ to step \
6f's teacher, then 800 steps more with source_warp_first on all 960 scenes (step 6j); its causal init and DMD: embedded \
until step 6k"
# 6k. a guide made from the source's pixels (model.conditioning_overrides.pixel_guide_depth=4, its weights starting at
#    zero): the source's first video frame reprojected on pixels through the 4 m plane into every target camera, then
#    encoded by the VAE. `pixel-guides` encodes it once for every pair of cameras of the 960 scenes (two threads,
#    11 min); step 6j's teacher trains 800 steps more with it (P8's settings, two threads), then step 6j's student
#    chain follows: docs/results.md, "World v2: a guide made from the source's pixels"
[ -f "$WORK/dit_latents_960/pixel_guides.safetensors" ] || OMP_NUM_THREADS=2 $PY -m realcam pixel-guides \
  --latents "$WORK/dit_latents_960" --vae "$VAE" --depth 4 --fov 60
TPX="$R/v2_pixels960_teacher/teacher.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${P8[@]}" --data "$WORK/dit_latents_960" --out "$R/v2_pixels960_teacher" \
  --set model.init="$T960" --set model.conditioning_overrides.source_warp_first=true \
  --set model.conditioning_overrides.pixel_guide_depth=4.0
student_chain pixels960 "$TPX" "${FS[@]}"
weights_folder "$WORK/weights_pixels" v2_pixels960_teacher v2_pixels960_distill "the world_v2 configs in configs/ to step 6j's \
teacher, then 800 steps more with the guide made from the source's pixels (pixel_guide_depth 4, step 6k); its causal \
init and DMD: the embedded model"
# 6l. the pixel guide taken as it is where the model says so (model.conditioning_overrides.pixel_guide_skip, a second
#    output head starting at zero): step 6k's teacher trained 800 steps more with it (P8's settings, the gate's
#    learning rate ×3, two threads, 19 min), and, matched, the same 800 steps without the gate; then step 6k's student
#    chain from the gated teacher: docs/results.md, "World v2: taking the guide as it is"
TSK="$R/v2_skip960_teacher/teacher.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${P8[@]}" --data "$WORK/dit_latents_960" --out "$R/v2_skip960_teacher" \
  --set model.init="$TPX" --set model.conditioning_overrides.source_warp_first=true \
  --set model.conditioning_overrides.pixel_guide_depth=4.0 --set model.conditioning_overrides.pixel_guide_skip=true \
  --set 'optim.lr_scale={"guide_embedding.": 3, "guide_gate.": 3}'
# the teacher's matched control: the same 800 steps without the gate
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${P8[@]}" --data "$WORK/dit_latents_960" \
  --out "$R/v2_pixels960_more800_teacher" --set model.init="$TPX" --set model.conditioning_overrides.source_warp_first=true \
  --set model.conditioning_overrides.pixel_guide_depth=4.0
student_chain skip960 "$TSK" "${FS[@]}"
weights_folder "$WORK/weights_skip" v2_skip960_teacher v2_skip960_distill "step 6k's chain with the gate that takes the \
pixel guide as it is (pixel_guide_skip, step 6l)"
# 6m. the gate taught where the guide is right (guide_gate_weight 0.25: the gate regressed onto where the pixel guide is
#    closer to the truth than the model's own clean estimate): step 6l's teacher run with the term (two threads, 19 min;
#    its matched control is step 6l's gated teacher), then the causal initialisation (chunk 3 only, two threads) with
#    the term too, and DMD, then the chunk-1 ablation (two threads): docs/results.md, "World v2: teaching the gate where
#    the guide is right" (embedded until step 6n)
gated_teacher() {  # name weight: step 6l's teacher run with guide_gate_weight=weight (two threads, 19 min)
  OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${P8[@]}" --data "$WORK/dit_latents_960" --out "$R/v2_$1_teacher" \
    --set model.init="$TPX" --set model.conditioning_overrides.source_warp_first=true \
    --set model.conditioning_overrides.pixel_guide_depth=4.0 --set model.conditioning_overrides.pixel_guide_skip=true \
    --set 'optim.lr_scale={"guide_embedding.": 3, "guide_gate.": 3}' --set guide_gate_weight="$2"
}
gated_chain() {  # name weight: that teacher, then the causal initialisation (chunk 3) with the term too, DMD, and the
  #              chunk-1 ablation (each two threads): runs/v2_<name>_*
  local name=$1 weight=$2 t="$R/v2_$1_teacher/teacher.safetensors"
  gated_teacher "$name" "$weight"
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_${name}_causal" --set model.init="$t" --set causal.chunk=3 "${FS[@]}" --set guide_gate_weight="$weight"
  OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_${name}_distill" --set model.init="$R/v2_${name}_causal/student.safetensors" --set distill.teacher="$t" \
    "${FS[@]}"
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
    --out "$R/v2_ablate_${name}_chunk1" --set model.init="$t" --set causal.chunk=1 "${FS[@]}" --set guide_gate_weight="$weight"
}
gated_chain gatesup960 0.25
weights_folder "$WORK/weights_gatesup" v2_gatesup960_teacher v2_gatesup960_distill "step 6l's chain with the gate \
taught where the pixel guide is right (guide_gate_weight 0.25, step 6m)"
# 6n. the same chain with guide_gate_weight 1.0 (the teacher benchmarked beside step 6m's in step 7; the causal
#    initialisation 15 min, DMD 8 min): docs/results.md, "World v2: the gate taught harder — the embedded model"
gated_chain gatesup1 1.0
weights_folder "$WORK/weights_gatesup1" v2_gatesup1_teacher v2_gatesup1_distill "step 6m's chain with the gate taught \
harder (guide_gate_weight 1, step 6n): embedded until step 6p"
# 6o. the teacher alone with guide_gate_weight 4 (benchmarked beside step 6n's in step 7; not taken further)
gated_teacher gatesup4 4.0
# 6p. step 6n's causal initialisation run 3× longer (1,800 steps) from its teacher, then DMD with step 6n's 200 steps, all
#    else as step 6n: embedded with its one-plane guide until step 6r (docs/results.md, "World v2: a longer student on a GPU"). Its committed causal
#    initialisation was trained on one H200 by scripts/gpu_tiny_chain.sh, on the same 960 scenes made there by
#    synth-latents (the GPU's kernels are not bitwise repeatable; that script's DMD of 800 steps is the section's other
#    student), and DMD ran on two CPU cores from it on this folder's data; here both run on the CPU (~50 min)
TG1="$R/v2_gatesup1_teacher/teacher.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
  --out "$R/v2_long_causal" --steps 1800 --set model.init="$TG1" --set causal.chunk=3 "${FS[@]}" --set guide_gate_weight=1.0
OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" \
  --out "$R/v2_long_dmd200" --set model.init="$R/v2_long_causal/student.safetensors" --set distill.teacher="$TG1" "${FS[@]}"
weights_folder "$WORK/weights_plane" v2_gatesup1_teacher v2_long_dmd200 "step 6n's chain with its causal initialisation \
run longer (1,800 steps, then DMD's 200; step 6p): embedded until step 6r"
# 6r. step 6p's weights, unchanged, reading their pixel guide through the depth the source's motion shows when its path is
#    known (conditioning.pixel_guide_sweep, set by set-guide-sweep; seconds): the embedded model (docs/results.md,
#    "World v2: the guide's depth from the source's motion")
weights_folder "$WORK/weights" v2_gatesup1_teacher v2_long_dmd200 "step 6p's chain reading its pixel guide through the \
depth the source's motion shows (pixel_guide_sweep, step 6r): the embedded model"
for m in teacher student; do
  $PY -m realcam set-guide-sweep --weights "$WORK/weights/$m.safetensors" --planes 1,1.5,2,2.5,3,3.5,4,5,6.5,8.5,12,20,1e4
done
# 6q. step 6p's causal initialisation trained 1,200 steps more (3,000 in all; the cosine restarted; two threads, ~30 min),
#    then DMD's 200 steps (7 min): level with step 6p's student, not embedded (docs/results.md, "World v2: a longer
#    student on a GPU")
OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_960" \
  --out "$R/v2_long_causal_more1200" --steps 1200 --set model.init="$R/v2_long_causal/student.safetensors" \
  --set causal.chunk=3 "${FS[@]}" --set guide_gate_weight=1.0
OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_960" \
  --out "$R/v2_long3000_dmd200" --set model.init="$R/v2_long_causal_more1200/student.safetensors" \
  --set distill.teacher="$TG1" "${FS[@]}"
weights_folder "$WORK/weights_long3000" v2_gatesup1_teacher v2_long3000_dmd200 "step 6q: step 6p's chain with 3,000 \
causal steps"
# 6s. a student trained on swept guides (docs/results.md, "World v2: a student trained on swept guides"; not embedded):
#    from step 6r's teacher (it carries the sweep, so its students train on swept guides where the path is kept), the
#    causal initialisation of step 6p (1,800 steps, chunk 3) on the first 480 of the 960 scenes made with both guides,
#    then DMD's 200 steps on the first 50. The committed run made the 480 scenes and the causal initialisation on one
#    H200 (scripts/gpu_tiny_chain.sh OUT 480 1800 200 395; its DMD did not fit) and the rest on two CPU cores; here
#    all on the CPU (the 480 scenes ~2 h, the causal initialisation ~45 min, the 50 scenes 14 min, DMD 29 min)
SW=1,1.5,2,2.5,3,3.5,4,5,6.5,8.5,12,20,1e4
for n in 480 50; do
  [ -d "$WORK/dit_latents_swept$n" ] || OMP_NUM_THREADS=2 $PY -m realcam synth-latents --out "$WORK/dit_latents_swept$n" \
    --vae "$VAE" --scenes $n --seed 2 --shared-start 3 --trajectories random --world v2 --guide-depth 4 --guide-fov 60 \
    --guide-sweep $SW
done
FSW=(--set "$DROP" --set "$S" --set same_camera_withheld=never)
OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_swept480" \
  --out "$R/v2_swept_causal" --steps 1800 --set model.init="$WORK/weights/teacher.safetensors" --set causal.chunk=3 \
  "${FSW[@]}" --set guide_gate_weight=1.0
OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_swept50" \
  --out "$R/v2_swept_dmd200" --set model.init="$R/v2_swept_causal/student.safetensors" \
  --set distill.teacher="$WORK/weights/teacher.safetensors" "${FSW[@]}"
mkdir -p "$WORK/weights_swept"
cp "$WORK/weights/vae.safetensors" "$WORK/weights/teacher.safetensors" "$WORK/weights_swept/"
cp "$R/v2_swept_dmd200/generator.safetensors" "$WORK/weights_swept/student.safetensors"
readme "step 6s: step 6r's teacher; a student trained on swept guides (causal init on 480 scenes, DMD on 50)" \
  > "$WORK/weights_swept/README.json"
# 6t. step 6r's teacher and student with only their guide gate re-taught (model.trainable=guide_gate, the rest frozen;
#    λ = 1, lr 1e-3, 300 steps each, ~10 min on one thread) on guides drawn with each layer where the sweep measured
#    its depth, as since 2026-12-05 (the first 64 of the DiT scenes with the swept guides, 11 min on two threads):
#    embedded until step 6u (docs/results.md, "World v2: the gate re-taught on guides with the layers in place")
[ -d "$WORK/dit_latents_swept64" ] || OMP_NUM_THREADS=2 $PY -m realcam synth-latents --out "$WORK/dit_latents_swept64" \
  --vae "$VAE" --scenes 64 --seed 2 --shared-start 3 --trajectories random --world v2 --guide-depth 4 --guide-fov 60 \
  --guide-sweep $SW
# the guide gate alone re-taught (300 steps, λ = 1, lr 1e-3), the rest frozen: every gate re-teaching below
GATE=(--steps 300 --set guide_gate_weight=1.0 --set model.trainable=guide_gate --set optim.lr=0.001
      --set optim.warmup_steps=20)
reteach_gates() {  # data weights-folder student-run teacher-run: the folder's student's and teacher's guide gate alone
  #                 re-taught on data (one thread each, side by side) into runs/<run>
  local g=(--data "$1" "${FSW[@]}" "${GATE[@]}")
  ( export OMP_NUM_THREADS=1
    $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${g[@]}" --out "$R/$3" \
      --set model.init="$2/student.safetensors" &
    $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml "${g[@]}" --out "$R/$4" \
      --set model.init="$2/teacher.safetensors" --set 'model.conditioning_overrides={}' --set 'optim.lr_scale={}' &
    wait )
}
reteach_gates "$WORK/dit_latents_swept64" "$WORK/weights" v2_gate_student v2_gate_teacher
mkdir -p "$WORK/weights_gate"
cp "$WORK/weights/vae.safetensors" "$WORK/weights_gate/"
cp "$R/v2_gate_teacher/teacher.safetensors" "$R/v2_gate_student/student.safetensors" "$WORK/weights_gate/"
readme "step 6t: step 6r's teacher and student, their guide gate re-taught on guides with the layers in place \
(embedded until step 6u)" > "$WORK/weights_gate/README.json"
# 6u. step 6t's teacher and student reading their guide through a smoother depth: the sweep's costs aggregated
#    semi-globally (pixel_guide_sweep_smooth 0.02,0.08) over 25 planes evenly spaced in inverse depth (set-guide-sweep,
#    seconds: "weights_sgm_read"), then their gate re-taught on guides swept so, as in step 6t (the first 64 DiT scenes
#    made with those guides, 13 min on two threads; 300 steps each, one thread): embedded until step 6w (docs/results.md,
#    "World v2: a smoother depth from the source's motion")
P25=1,1.04,1.09,1.14,1.2,1.26,1.33,1.41,1.5,1.6,1.71,1.85,2,2.18,2.4,2.67,3,3.43,4,4.8,6,8,12,24,1e4
SM=0.02,0.08
mkdir -p "$WORK/weights_sgm_read"
cp "$WORK"/weights_gate/*.safetensors "$WORK/weights_sgm_read/"
for m in teacher student; do
  $PY -m realcam set-guide-sweep --weights "$WORK/weights_sgm_read/$m.safetensors" --planes $P25 --smooth $SM
done
readme "step 6u: step 6t's weights reading their guide through the smoother depth (set-guide-sweep)" \
  > "$WORK/weights_sgm_read/README.json"
[ -d "$WORK/dit_latents_sgm64" ] || OMP_NUM_THREADS=2 $PY -m realcam synth-latents --out "$WORK/dit_latents_sgm64" \
  --vae "$VAE" --scenes 64 --seed 2 --shared-start 3 --trajectories random --world v2 --guide-depth 4 --guide-fov 60 \
  --guide-sweep $P25 --guide-sweep-smooth $SM
reteach_gates "$WORK/dit_latents_sgm64" "$WORK/weights_sgm_read" v2_sgm_gate_student v2_sgm_gate_teacher
mkdir -p "$WORK/weights_sgm"
cp "$WORK/weights/vae.safetensors" "$WORK/weights_sgm/"
cp "$R/v2_sgm_gate_teacher/teacher.safetensors" "$R/v2_sgm_gate_student/student.safetensors" "$WORK/weights_sgm/"
readme "step 6u: step 6t's teacher and student reading their guide through the smoother depth, their gate re-taught on \
guides swept so (embedded until step 6w)" > "$WORK/weights_sgm/README.json"
# 6v. step 6s's causal initialisation (trained on swept guides) finished on the smoother depth of step 6u (docs/results.md,
#    "World v2: the swept-guide student finished on the CPU"; not embedded): it reads its guide through step 6u's
#    sweep (set-guide-sweep), then DMD's 200 steps from it against the embedded teacher on step 6u's 64 scenes (one
#    thread, 28 min), then the DMD student's gate alone re-taught on them as in step 6t (one thread, 10 min)
cp "$R/v2_swept_causal/student.safetensors" "$R/v2_swept_causal_sgm.safetensors"
$PY -m realcam set-guide-sweep --weights "$R/v2_swept_causal_sgm.safetensors" --planes $P25 --smooth $SM
OMP_NUM_THREADS=1 $PY -m realcam distill --config configs/world_v2_distill.yaml --data "$WORK/dit_latents_sgm64" \
  --out "$R/v2_swept_sgm_dmd200" --set model.init="$R/v2_swept_causal_sgm.safetensors" \
  --set distill.teacher="$WORK/weights_sgm/teacher.safetensors" "${FSW[@]}"
OMP_NUM_THREADS=1 $PY -m realcam train-causal --config configs/world_v2_causal.yaml --data "$WORK/dit_latents_sgm64" \
  "${FSW[@]}" "${GATE[@]}" --out "$R/v2_swept_sgm_gate" --set model.init="$R/v2_swept_sgm_dmd200/generator.safetensors"
mkdir -p "$WORK/weights_swept_sgm"
cp "$WORK/weights_sgm/vae.safetensors" "$WORK/weights_sgm/teacher.safetensors" "$WORK/weights_swept_sgm/"
cp "$R/v2_swept_sgm_gate/student.safetensors" "$WORK/weights_swept_sgm/student.safetensors"
readme "step 6v: step 6u's teacher; step 6s's causal initialisation through step 6u's sweep, DMD on 64 scenes, its gate \
re-taught" > "$WORK/weights_swept_sgm/README.json"
# 6w. step 6u's teacher and student drawing each latent frame's guide from the source's first frame or the source
#    frame that latent frame starts at, whichever was filmed nearer the target camera (set-guide-sweep --views nearest;
#    seconds: "weights_near_read"), then their gate re-taught on guides drawn so, as in step 6u (the first 64 DiT scenes
#    made with those guides, 14 min on one thread; 300 steps each, one thread, 3 min): the embedded model
#    (docs/results.md, "World v2: the guide drawn from the nearer source frame")
mkdir -p "$WORK/weights_near_read"
cp "$WORK"/weights_sgm/*.safetensors "$WORK/weights_near_read/"
for m in teacher student; do
  $PY -m realcam set-guide-sweep --weights "$WORK/weights_near_read/$m.safetensors" --planes $P25 --smooth $SM --views nearest
done
readme "step 6w: step 6u's teacher and student drawing their guide from the nearer source frame (set-guide-sweep)" \
  > "$WORK/weights_near_read/README.json"
[ -d "$WORK/dit_latents_near64" ] || OMP_NUM_THREADS=1 $PY -m realcam synth-latents --out "$WORK/dit_latents_near64" \
  --vae "$VAE" --scenes 64 --seed 2 --shared-start 3 --trajectories random --world v2 --guide-depth 4 --guide-fov 60 \
  --guide-sweep $P25 --guide-sweep-smooth $SM --guide-views nearest
reteach_gates "$WORK/dit_latents_near64" "$WORK/weights_near_read" v2_near_gate_student v2_near_gate_teacher
mkdir -p "$WORK/weights_near"
cp "$WORK/weights/vae.safetensors" "$WORK/weights_near/"
cp "$R/v2_near_gate_teacher/teacher.safetensors" "$R/v2_near_gate_student/student.safetensors" "$WORK/weights_near/"
readme "step 6w: step 6u's teacher and student drawing their guide from the nearer source frame, their gate re-taught on \
guides drawn so (embedded until step 6x)" > "$WORK/weights_near/README.json"
# 6x. step 6w's teacher and student taking 1.5 times the share of the pixel guide their gate gives, capped at all of it
#    (set-guide-strength; seconds): embedded until step 6z (docs/results.md, "World v2: a stronger guide"). The strength
#    was chosen among 1, 1.5, 2 and 3 on the scenes after the benchmark's (eval --first-scene 5, step 7)
mkdir -p "$WORK/weights_strong"
cp "$WORK"/weights_near/*.safetensors "$WORK/weights_strong/"
for m in teacher student; do
  $PY -m realcam set-guide-strength --weights "$WORK/weights_strong/$m.safetensors" --strength 1.5
done
readme "step 6x: step 6w's teacher and student taking 1.5 times their gate's share of the pixel guide (embedded until \
step 6z)" > "$WORK/weights_strong/README.json"
# 6y. the gate taught the share of the guide that brings the model's estimate nearest the truth instead of the 0/1
#    target (guide_gate_target share): step 6w's re-teaching with that target, from the same weights_near_read, on the
#    same 64 scenes (one thread each, side by side, 3 min), at strength 1 and 1.5 (docs/results.md, "World v2: the gate
#    taught the share, and a gate that knows the truth"; not embedded)
reteach_share() {  # as reteach_gates with guide_gate_target share
  local g=(--data "$WORK/dit_latents_near64" "${FSW[@]}" "${GATE[@]}" --set guide_gate_target=share)
  ( export OMP_NUM_THREADS=1
    $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${g[@]}" --out "$R/v2_share_gate_student" \
      --set model.init="$WORK/weights_near_read/student.safetensors" &
    $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml "${g[@]}" --out "$R/v2_share_gate_teacher" \
      --set model.init="$WORK/weights_near_read/teacher.safetensors" --set 'model.conditioning_overrides={}' \
      --set 'optim.lr_scale={}' &
    wait )
}
reteach_share
for s in 1 1.5; do
  mkdir -p "$WORK/weights_share$s"
  cp "$WORK/weights_near/vae.safetensors" "$WORK/weights_share$s/"
  cp "$R/v2_share_gate_teacher/teacher.safetensors" "$R/v2_share_gate_student/student.safetensors" "$WORK/weights_share$s/"
  for m in teacher student; do
    $PY -m realcam set-guide-strength --weights "$WORK/weights_share$s/$m.safetensors" --strength $s
  done
  readme "step 6y: step 6w with its gates taught the share (guide_gate_target share), strength $s" \
    > "$WORK/weights_share$s/README.json"
done
# 6z. step 6x's teacher and student taking up to 4 times their gate's share where the guide's two views (the first frame
#    and the nearer source frame) agree, as trained where they do not (set-guide-strength --agreement 4; seconds):
#    embedded until step 8 (docs/results.md, "World v2: where the guide's two views agree"). 4 was chosen among 2, 4, 6 and 8
#    (and, with 1.5 where the views disagree, 3, 4 and 6) on the scenes after the benchmark's (step 7)
mkdir -p "$WORK/weights_agree"
cp "$WORK"/weights_strong/*.safetensors "$WORK/weights_agree/"
for m in teacher student; do
  $PY -m realcam set-guide-strength --weights "$WORK/weights_agree/$m.safetensors" --agreement 4
done
readme "step 6z: step 6x's teacher and student taking up to 4 times their gate's share where the guide's two views agree; \
embedded until step 8" > "$WORK/weights_agree/README.json"
WS="$WORK/weights_same15s"
weights_folder "$WS" v2_same15s_teacher v2_same15s_distill "step 6e's chain (self-pairs read as still where the path is withheld)"
# 7. the benchmarks (docs/results.md). The RoPE-positions chain with its ablations as variants (the claims):
$PY -m realcam eval --weights "$WORK/weights_rope" --scenes 5 --variant causal_chunk3="$R/v2_causal/student.safetensors" \
  --variant causal_chunk1="$R/v2_ablate_chunk1/student.safetensors" --variant teacher_step800="$T/teacher_step800.safetensors" \
  --variant prefix_step800="$R/v2_ablate_prefix/teacher.safetensors" \
  --variant loopaug_step800="$R/v2_ablate_loopaug/teacher.safetensors" \
  --variant rope_prefix="$R/v2_ablate_rope_prefix/teacher.safetensors" \
  --variant rope_loopaug="$R/v2_ablate_rope_loopaug/teacher.safetensors" --out "$WORK/eval_v2_rope.json"
# the source_warp chain at 800 teacher steps with the control teacher and its causal initialisation as variants,
# then the same without the source's path, as for a user's video; then the chain at 2,400 teacher steps likewise,
# with the 800-step teacher and its own causal initialisation as variants
W8F="$WORK/weights_warp800"
$PY -m realcam eval --weights "$W8F" --scenes 5 --variant teacher_more800="$R/v2_more_teacher/teacher.safetensors" \
  --variant causal_chunk3="$R/v2_warp_causal/student.safetensors" --out "$WORK/eval_v2_warp800.json"
$PY -m realcam eval --weights "$W8F" --scenes 5 --source-camera unknown --out "$WORK/eval_v2_warp800_unknown.json"
$PY -m realcam eval --weights "$W24" --scenes 5 --variant teacher_warp800="$W8/teacher.safetensors" \
  --variant causal_chunk3="$R/v2_warp_causal2400/student.safetensors" --out "$WORK/eval_v2_warp2400.json"
$PY -m realcam eval --weights "$W24" --scenes 5 --source-camera unknown --out "$WORK/eval_v2_warp2400_unknown.json"
# the 2,400-step chain with its claims' ablations as variants (no camera error: the claims are judged on PSNR and loops)
claims_eval() {  # weights-folder chunk3-run chunk1-run out: the prefix/LoopAug teachers are the same 800-step stage's
  $PY -m realcam eval --weights "$1" --scenes 5 --no-camera --variant teacher_step800="$W8/teacher.safetensors" \
    --variant causal_chunk3="$R/$2/student.safetensors" \
    --variant causal_chunk1="$R/$3/student.safetensors" \
    --variant prefix_step800="$R/v2_ablate_warp_prefix/teacher.safetensors" \
    --variant loopaug_step800="$R/v2_ablate_warp_loopaug/teacher.safetensors" --out "$4"
}
claims_eval "$W24" v2_warp_causal2400 v2_ablate_warp_chunk1 "$WORK/eval_v2_claims_warp2400.json"
# the guide learning-rate runs as teacher variants: at 800 steps against W8 (a folder with W8 as its teacher and the
# 2,400-step chain's student), at 2,400 against WT
weights_folder "$WORK/weights_guide" v2_warp_teacher v2_warp_distill2400 \
  "the 800-step source_warp teacher with the 2,400-step chain's student (the guide learning-rate runs' baseline)"
$PY -m realcam eval --weights "$WORK/weights_guide" --scenes 5 --no-camera --variant guide3_step800="${G}3/teacher.safetensors" \
  --variant guide10_step800="${G}10/teacher.safetensors" --out "$WORK/eval_v2_guide_lr.json"
$PY -m realcam eval --weights "$W24" --scenes 5 --no-camera --variant guide10_step2400="${G}10_2400/teacher.safetensors" \
  --out "$WORK/eval_v2_guide_lr2400.json"
# the chain with its teacher at 4,800 steps (step 5c), with the 2,400-step teacher and its own causal initialisation
# as variants, then without the source's path; then with its claims' ablations as variants
$PY -m realcam eval --weights "$W48" --scenes 5 --variant teacher_step2400="$WT/teacher.safetensors" \
  --variant causal_chunk3="$R/v2_warp_causal4800/student.safetensors" --out "$WORK/eval_v2_warp4800.json"
$PY -m realcam eval --weights "$W48" --scenes 5 --source-camera unknown --out "$WORK/eval_v2_warp4800_unknown.json"
claims_eval "$W48" v2_warp_causal4800 v2_ablate_warp4800_chunk1 "$WORK/eval_v2_claims_warp4800.json"
# the chain at 7,200 teacher steps (step 5d), with the 4,800-step teacher and the causal initialisation as variants
W72="$WORK/weights_warp7200"
weights_folder "$W72" v2_warp_teacher7200 v2_warp_distill7200 "the source_warp chain at 7,200 teacher steps"
$PY -m realcam eval --weights "$W72" --scenes 5 --variant teacher_step4800="$WT4/teacher.safetensors" \
  --variant causal_chunk3="$R/v2_warp_causal7200/student.safetensors" --out "$WORK/eval_v2_warp7200.json"
# step 6e's chain with the 4-plane run of 6d and its own causal initialisations (chunk 3 and 1) as variants (the
# claims' prefix and LoopAug figures are the 800-step stage's, as in the claims_eval runs above), then without the
# source's path; then the embedded chain (step 6f) likewise, the two side by side (one thread each); every source
# re-rendered along its own path by the 4,800-step chain's models, the two plane runs of 6d and the step-6e teacher,
# then by the step-6e student, then by the step-6f teacher and student
$PY -m realcam eval --weights "$WS" --scenes 5 --variant planes4_step1200="$R/v2_planes4_teacher/teacher.safetensors" \
  --variant causal_chunk3="$R/v2_same15s_causal/student.safetensors" \
  --variant causal_chunk1="$R/v2_ablate_same15s_chunk1/student.safetensors" --out "$WORK/eval_v2_same15s.json"
$PY -m realcam eval --weights "$WS" --scenes 5 --source-camera unknown --out "$WORK/eval_v2_same15s_unknown.json"
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$W" --scenes 5 \
    --variant causal_chunk3="$R/v2_same15n_causal/student.safetensors" \
    --variant causal_chunk1="$R/v2_ablate_same15n_chunk1/student.safetensors" --out "$WORK/eval_v2_same15n.json" ) &
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$W" --scenes 5 --source-camera unknown --out "$WORK/eval_v2_same15n_unknown.json" ) &
wait
# step 6g's teacher with the embedded student, PSNR only, with and without the source's path (one thread each)
weights_folder "$WORK/weights_same05n" v2_same05n_teacher v2_same15n_distill "step 6g's teacher, the embedded student"
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_same05n" --scenes 5 --no-camera \
    --out "$WORK/eval_v2_same05n.json" ) &
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_same05n" --scenes 5 --no-camera \
    --source-camera unknown --out "$WORK/eval_v2_same05n_unknown.json" ) &
wait
# the 4-plane run of 6d without the source's path (its control there: what the self-pairs cost without the path)
weights_folder "$WORK/weights_planes4" v2_planes4_teacher v2_warp_distill4800 "the 4-plane run of step 6d, the 4,800-step student"
$PY -m realcam eval --weights "$WORK/weights_planes4" --scenes 5 --no-camera --source-camera unknown \
  --out "$WORK/eval_v2_planes4_unknown.json"
$PY scripts/same_path_probe.py --weights "$W48" --variant planes4_step1200="$R/v2_planes4_teacher/teacher.safetensors" \
  --variant planes8_step1200="$R/v2_planes8_teacher/teacher.safetensors" --variant same15_step1200="$TS" \
  --out "$WORK/same_path_probe.json"
$PY scripts/same_path_probe.py --weights "$W48" --variant same15_student="$R/v2_same15s_distill/generator.safetensors" \
  --out "$WORK/same_path_probe_student.json"
$PY scripts/same_path_probe.py --weights "$W48" --variant same15n_step1200="$R/v2_same15n_teacher/teacher.safetensors" \
  --variant same15n_student="$R/v2_same15n_distill/generator.safetensors" --out "$WORK/same_path_probe_same15n.json"
# step 6h's two teachers as variants of the embedded chain, with and without the source's path (one thread each)
F8=(--variant more_step800="$R/v2_same15n_more800_teacher/teacher.safetensors"
    --variant first_step800="$R/v2_same15n_first800_teacher/teacher.safetensors")
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$W" --scenes 5 "${F8[@]}" --out "$WORK/eval_v2_first.json" ) &
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$W" --scenes 5 --no-camera --source-camera unknown "${F8[@]}" \
    --out "$WORK/eval_v2_first_unknown.json" ) &
wait
$PY scripts/warp_probe.py --weights "$W" --geometry-only --out "$WORK/warp_probe_first.json"
# step 6i's two student chains, each with its causal initialisation as a variant, with and without the source's path
# (one thread each, side by side)
for n in first more; do
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_$n" --scenes 5 \
      --variant causal_chunk3="$R/v2_${n}_causal/student.safetensors" --out "$WORK/eval_v2_${n}_chain.json" ) &
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_$n" --scenes 5 --source-camera unknown \
      --out "$WORK/eval_v2_${n}_chain_unknown.json" ) &
  wait
done
# step 6j's chain (in $WORK/weights_first960), step 6k's (in $WORK/weights_pixels) and step 6l's (in
# $WORK/weights_skip), each with its causal initialisation and the chunk-1 ablation as variants, beside it without the
# source's path (one thread each)
for n in first960 pixels960 skip960; do
  w="$WORK/weights_pixels"; [ "$n" = first960 ] && w="$WORK/weights_first960"; [ "$n" = skip960 ] && w="$WORK/weights_skip"
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$w" --scenes 5 \
      --variant causal_chunk3="$R/v2_${n}_causal/student.safetensors" \
      --variant causal_chunk1="$R/v2_ablate_${n}_chunk1/student.safetensors" --out "$WORK/eval_v2_$n.json" ) &
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$w" --scenes 5 --source-camera unknown \
      --out "$WORK/eval_v2_${n}_unknown.json" ) &
  wait
done
# step 6l's teacher against its matched control (no camera error: PSNR and loops)
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_skip" --scenes 5 --no-camera \
  --variant pixels_more800="$R/v2_pixels960_more800_teacher/teacher.safetensors" --out "$WORK/eval_v2_skip960_control.json"
# the chains of step 6m and 6n (embedded until step 6p), each with its causal initialisation as a variant, beside it without
# the source's path (one thread each); then each one's claims' run: both causal initialisations, no camera error (two
# threads)
for n in gatesup960 gatesup1chain; do
  w="$WORK/weights_gatesup1"; c=gatesup1; [ "$n" = gatesup960 ] && w="$WORK/weights_gatesup" && c=gatesup960
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$w" --scenes 5 \
      --variant causal_chunk3="$R/v2_${c}_causal/student.safetensors" --out "$WORK/eval_v2_$n.json" ) &
  ( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$w" --scenes 5 --source-camera unknown \
      --out "$WORK/eval_v2_${n}_unknown.json" ) &
  wait
  OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$w" --scenes 5 --no-camera \
    --variant causal_chunk3="$R/v2_${c}_causal/student.safetensors" \
    --variant causal_chunk1="$R/v2_ablate_${c}_chunk1/student.safetensors" --out "$WORK/eval_v2_${n}_claims.json"
done
# step 6n's teacher beside step 6m's, and step 6o's beside step 6n's (two threads)
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_gatesup" --scenes 5 \
  --variant gate_weight_1="$R/v2_gatesup1_teacher/teacher.safetensors" --out "$WORK/eval_v2_gatesup1.json"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_gatesup1" --scenes 5 \
  --variant gate_weight_4="$R/v2_gatesup4_teacher/teacher.safetensors" --out "$WORK/eval_v2_gatesup4.json"
# step 6p's chain (the embedded one) with its causal initialisation as a variant, beside it without the source's path
# (one thread each; the committed runs also held the GPU's matched control, docs/results.md)
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_plane" --scenes 5 \
    --variant causal_long="$R/v2_long_causal/student.safetensors" --out "$WORK/eval_v2_long.json" ) &
( export OMP_NUM_THREADS=1; $PY -m realcam eval --weights "$WORK/weights_plane" --scenes 5 --source-camera unknown \
    --out "$WORK/eval_v2_long_unknown.json" ) &
wait
# step 6r (the embedded model) with the source's path (without it, its guide and every figure are step 6p's), and the
# guide's probe: the guide alone and the student through one plane, the swept depth and the true depth (two threads).
# Since 2026-12-05 the swept guide's layers stand where their depth was measured: this run now gives
# docs/eval_results_world_v2_reference_planes.json (docs/eval_results_world_v2_sweep.json is the code before); the
# oracle probes give docs/guide_oracle_probe_world_v2.json and docs/guide_oracle_probe_world_v2_teacher.json
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights" --scenes 5 --out "$WORK/eval_v2_sweep.json"
OMP_NUM_THREADS=2 $PY scripts/guide_depth_probe.py --weights "$WORK/weights" --scenes 5 --out "$WORK/guide_depth_probe.json"
ORACLES="swept depth,true depth,truth the first frame sees,truth the source sees,truth"
OMP_NUM_THREADS=2 $PY scripts/guide_depth_probe.py --weights "$WORK/weights" --oracles --read "$ORACLES" \
  --out "$WORK/guide_oracle_probe.json"
OMP_NUM_THREADS=2 $PY scripts/guide_depth_probe.py --weights "$WORK/weights" --teacher --oracles \
  --read "swept depth,truth the first frame sees,truth" --out "$WORK/guide_oracle_probe_teacher.json"
# step 6s's student and its causal initialisation, without the teacher (it is step 6r's, benchmarked above; two threads)
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_swept" --scenes 5 --no-teacher \
  --variant causal_swept="$R/v2_swept_causal/student.safetensors" --out "$WORK/eval_v2_swept_student.json"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_long3000" --scenes 5 \
  --variant causal_3000="$R/v2_long_causal_more1200/student.safetensors" --out "$WORK/eval_v2_long3000.json"
# step 6t (embedded until step 6u) with and without the source's path (the second without its teacher; one thread each),
# and the probes of its student and teacher (docs/eval_results_world_v2_gate.json, docs/eval_results_world_v2_gate_unknown.json,
# docs/guide_depth_probe_world_v2_gate.json, docs/guide_oracle_probe_world_v2_gate.json,
# docs/guide_depth_probe_world_v2_gate_teacher.json)
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_gate" --scenes 5 --out "$WORK/eval_v2_gate.json" &
  $PY -m realcam eval --weights "$WORK/weights_gate" --scenes 5 --no-teacher --source-camera unknown \
    --out "$WORK/eval_v2_gate_unknown.json" &
  wait )
$PY scripts/guide_depth_probe.py --weights "$WORK/weights_gate" --read "swept depth" --out "$WORK/guide_depth_probe_gate.json"
$PY scripts/guide_depth_probe.py --weights "$WORK/weights_gate" --oracles --read "true depth,truth the first frame sees,truth" \
  --out "$WORK/guide_oracle_probe_gate.json"
$PY scripts/guide_depth_probe.py --weights "$WORK/weights_gate" --teacher --read "swept depth" \
  --out "$WORK/guide_depth_probe_gate_teacher.json"
# step 6u (the embedded model): the sweep's settings scored on the guide alone on held-out scenes the benchmark does not
# score, and timed (docs/sweep_settings_probe_world_v2.json, docs/benchmarks.md); step 6t's student reading the new
# guide (docs/guide_depth_probe_world_v2_sgm_read.json); the benchmark with and without the source's path
# (docs/eval_results_world_v2_sgm.json, docs/eval_results_world_v2_sgm_unknown.json; one thread each, side by side)
OMP_NUM_THREADS=1 $PY scripts/sweep_settings_probe.py --out "$WORK/sweep_settings_probe.json"
OMP_NUM_THREADS=1 $PY scripts/sweep_settings_probe.py --timing
OMP_NUM_THREADS=1 $PY scripts/guide_depth_probe.py --weights "$WORK/weights_gate" --planes $P25 --smooth $SM \
  --read "swept depth" --out "$WORK/guide_depth_probe_sgm_read.json"
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_sgm" --scenes 5 --out "$WORK/eval_v2_sgm.json" &
  $PY -m realcam eval --weights "$WORK/weights_sgm" --scenes 5 --no-teacher --source-camera unknown \
    --out "$WORK/eval_v2_sgm_unknown.json" &
  wait )
# step 6w (the embedded model): the sweep's variants and the nearer-frame guide on the guide alone, on held-out scenes
# the benchmark does not score (docs/sweep_variants_probe_world_v2.json; one thread); the benchmark with the source's
# path before the gates were re-taught (docs/eval_results_world_v2_near.json; without the path those weights render as
# step 6u's) and after (docs/eval_results_world_v2_near_gate.json), and without the path after
# (docs/eval_results_world_v2_near_gate_unknown.json; two threads each)
OMP_NUM_THREADS=1 $PY scripts/sweep_settings_probe.py --variants --out "$WORK/sweep_variants_probe.json"
OMP_NUM_THREADS=1 $PY -m realcam eval --weights "$WORK/weights_near_read" --scenes 5 --out "$WORK/eval_v2_near.json"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_near" --scenes 5 --out "$WORK/eval_v2_near_gate.json"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_near" --scenes 5 --no-teacher --source-camera unknown \
  --out "$WORK/eval_v2_near_gate_unknown.json"
# step 6x (the embedded model): the strengths on the scenes after the benchmark's, with the path (1 and 1.5 with the
# teacher; 2 and 3 for the student alone, on a copy of step 6w's folder given that strength) and without it (the
# student alone); then the benchmark of the chosen 1.5, with the path and without it (one thread each, two at a time).
# The *_everywhere JSON files of docs/ are the 1.5 runs with RealCamDiT.guide_strength returning the strength for every
# guide, the one-plane one too (the code as first written; docs/results.md, "World v2: a stronger guide")
for s in 2 3; do
  mkdir -p "$WORK/weights_strength$s" && cp "$WORK"/weights_near/*.safetensors "$WORK/weights_strength$s/"
  $PY -m realcam set-guide-strength --weights "$WORK/weights_strength$s/student.safetensors" --strength $s
done
V=(--scenes 5 --first-scene 5)
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_near" "${V[@]}" --out "$WORK/eval_v2_val_strength1.json" &
  $PY -m realcam eval --weights "$WORK/weights_strong" "${V[@]}" --out "$WORK/eval_v2_val_strength1.5.json" &
  wait
  $PY -m realcam eval --weights "$WORK/weights_strength2" "${V[@]}" --no-teacher --out "$WORK/eval_v2_val_strength2.json" &
  $PY -m realcam eval --weights "$WORK/weights_strength3" "${V[@]}" --no-teacher --out "$WORK/eval_v2_val_strength3.json" &
  wait
  $PY -m realcam eval --weights "$WORK/weights_near" "${V[@]}" --no-teacher --source-camera unknown \
    --out "$WORK/eval_v2_val_near_unknown.json"
  $PY -m realcam eval --weights "$WORK/weights_strong" --scenes 5 --out "$WORK/eval_v2_strong.json" &
  $PY -m realcam eval --weights "$WORK/weights_strong" --scenes 5 --no-teacher --source-camera unknown \
    --out "$WORK/eval_v2_strong_unknown.json" &
  wait )
# step 6y: the share-taught gates on the scenes after the benchmark's, at strength 1 and 1.5 (one thread each); the
# oracle gate against the embedded one of step 6x on the benchmark's scenes (the student; one thread each), and where the
# guide's two views agree, on the benchmark's scenes and the ones after (docs/results.md, "World v2: the gate taught the
# share, and a gate that knows the truth")
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_share1" "${V[@]}" --out "$WORK/eval_v2_val_share1.json" &
  $PY -m realcam eval --weights "$WORK/weights_share1.5" "${V[@]}" --out "$WORK/eval_v2_val_share1.5.json" &
  wait
  $PY scripts/gate_oracle_probe.py --weights "$WORK/weights_strong" --gate trained --out "$WORK/gate_oracle_trained.json" &
  $PY scripts/gate_oracle_probe.py --weights "$WORK/weights_strong" --gate share --out "$WORK/gate_oracle_share.json" &
  wait
  $PY scripts/gate_oracle_probe.py --agreement --first 0 --out "$WORK/gate_agreement.json" &
  $PY scripts/gate_oracle_probe.py --agreement --first 5 --out "$WORK/gate_agreement_val.json" &
  wait )
# step 6z (the embedded model): the agreement strengths on the scenes after the benchmark's through the probe (the
# student of step 6x; agree:A,D takes A where the views agree, D where they do not, 1.5 on latent frame 0), then the
# chosen 4 (D = 1) with the product's own setting on those scenes and on the benchmark's (one thread each, two at a time)
( export OMP_NUM_THREADS=1
  P=(--weights "$WORK/weights_strong" --first 5)
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate trained --out "$WORK/gate_val_trained.json" &
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:2,1 --out "$WORK/gate_val_agree2.json" &
  wait
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:4,1 --out "$WORK/gate_val_agree4.json" &
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:6,1 --out "$WORK/gate_val_agree6.json" &
  wait
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:8,1 --out "$WORK/gate_val_agree8.json" &
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:3,1.5 --out "$WORK/gate_val_agree3_1.5.json" &
  wait
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:4,1.5 --out "$WORK/gate_val_agree4_1.5.json" &
  $PY scripts/gate_oracle_probe.py "${P[@]}" --gate agree:6,1.5 --out "$WORK/gate_val_agree6_1.5.json" &
  wait
  $PY -m realcam eval --weights "$WORK/weights_agree" "${V[@]}" --out "$WORK/eval_v2_val_agree4.json" &
  $PY -m realcam eval --weights "$WORK/weights_agree" --scenes 5 --out "$WORK/eval_v2_agree.json" &
  wait )
# after step 6z, no weight changed (docs/results.md, "World v2: what the render can tell the gate"): the embedded
# student's guide drawn from every earlier source frame against the nearer one, on the scenes after the benchmark's;
# and a share learned from what the render knows, fitted and scored on scenes of a seed no one else uses (one thread each)
( export OMP_NUM_THREADS=1
  P=(--weights "$WORK/weights_agree" --first 5 --gate trained)
  $PY scripts/gate_oracle_probe.py "${P[@]}" --out "$WORK/gate_val_embedded.json" &
  $PY scripts/gate_oracle_probe.py "${P[@]}" --views every --out "$WORK/gate_val_every.json" &
  wait
  $PY scripts/gate_calibration_probe.py --weights "$WORK/weights_agree" --seed 7 --scenes 20 \
    --out "$WORK/gate_calibration.json" )
# the acceptance bars, on the benchmark's scenes and on scenes 10-14, which no choice of this chain looked at
# (docs/results.md, "World v2: the bars on scenes no choice has seen"; the benchmark's run is step 6z's)
$PY -m realcam eval --weights "$WORK/weights_agree" --scenes 5 --first-scene 10 --no-teacher --out "$WORK/eval_v2_fresh.json"
$PY scripts/bar_check.py "$WORK/eval_v2_agree.json"
$PY scripts/bar_check.py "$WORK/eval_v2_fresh.json"
$PY scripts/bar_check.py "$WORK/eval_v2_agree.json" "$WORK/eval_v2_fresh.json"
# and the render as it is, drawn through the renderer's true depths instead of the swept ones, on both sets of scenes
$PY scripts/guide_depth_probe.py --weights "$WORK/weights_agree" --as-rendered --out "$WORK/as_rendered.json"
$PY scripts/guide_depth_probe.py --weights "$WORK/weights_agree" --as-rendered --first 10 --out "$WORK/as_rendered_fresh.json"
# a depth learned from single frames of the world (scene seed 11), read by the render as it is, on the scenes the
# settings are chosen on (5-9), the benchmark's and scenes 10-14 (docs/results.md, "World v2: a depth learned from
# single frames")
$PY scripts/depth_net_probe.py train --out "$WORK/depth_net.safetensors" --scenes 1500 --steps 2500 --seed 11
for F in 0 5 10; do
  $PY scripts/depth_net_probe.py probe --net "$WORK/depth_net.safetensors" --weights "$WORK/weights_agree" --first $F \
    --out "$WORK/depth_net_$F.json"
done
$PY scripts/depth_net_probe.py table --probe "$WORK/depth_net_0.json" "$WORK/depth_net_10.json" \
  --eval "$WORK/eval_v2_agree.json" "$WORK/eval_v2_fresh.json"
for F in 0 10; do      # and for a source whose path is withheld (a user's video)
  $PY scripts/depth_net_probe.py probe --net "$WORK/depth_net.safetensors" --weights "$WORK/weights_agree" --first $F \
    --unknown --out "$WORK/depth_net_unknown_$F.json"
done
$PY scripts/depth_net_probe.py table --probe "$WORK/depth_net_unknown_0.json" "$WORK/depth_net_unknown_10.json"
# 8. that network built in: step 6z's teacher and student carrying it (set-guide-depth-net; seconds), their guide drawn
#    through its depth with the source's path or without it: the embedded model (docs/results.md, "World v2: the learned
#    depth built in"); the benchmark, scenes 10-14 and both without the path, and the bars pooled
mkdir -p "$WORK/weights_net"
cp "$WORK"/weights_agree/*.safetensors "$WORK/weights_net/"
for m in teacher student; do
  $PY -m realcam set-guide-depth-net --weights "$WORK/weights_net/$m.safetensors" --net "$WORK/depth_net.safetensors"
done
readme "step 8: step 6z's teacher and student drawing their guide through the depth network of seed 11; the embedded model" \
  > "$WORK/weights_net/README.json"
$PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --out "$WORK/eval_v2_net.json"
$PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --first-scene 10 --no-teacher --out "$WORK/eval_v2_net_fresh.json"
for F in 0 10; do
  $PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --first-scene $F --no-teacher --source-camera unknown \
    --out "$WORK/eval_v2_net_unknown_$F.json"
done
$PY scripts/bar_check.py "$WORK/eval_v2_net.json" "$WORK/eval_v2_net_fresh.json"
# 9. step 8's gate alone re-taught on guides drawn through the network, as in step 6w: the first 64 DiT scenes made
#    with those guides (synth-latents --guide-sweep-depth net, 17 min on one thread), 300 steps each (one thread, 6
#    min), judged on the scenes the settings are chosen on (docs/results.md, "World v2: the learned depth built in";
#    level there, not embedded)
# the DiT scenes of steps 9, 11 and 14: guides drawn through the network (add --scenes and --first)
NETSYN=(--vae "$VAE" --seed 2 --shared-start 3 --trajectories random --world v2 --guide-depth 4 --guide-fov 60
  --guide-sweep $P25 --guide-views nearest --guide-sweep-depth net --guide-depth-net "$WORK/depth_net.safetensors")
[ -d "$WORK/dit_latents_net64" ] || OMP_NUM_THREADS=1 $PY -m realcam synth-latents --out "$WORK/dit_latents_net64" \
  "${NETSYN[@]}" --scenes 64
reteach_gates "$WORK/dit_latents_net64" "$WORK/weights_net" v2_net_gate_student v2_net_gate_teacher
mkdir -p "$WORK/weights_net_gate"
cp "$WORK/weights_net/vae.safetensors" "$WORK/weights_net_gate/"
cp "$R/v2_net_gate_teacher/teacher.safetensors" "$R/v2_net_gate_student/student.safetensors" "$WORK/weights_net_gate/"
readme "step 9: step 8's teacher and student, their gate re-taught on guides drawn through the depth network (not \
embedded)" > "$WORK/weights_net_gate/README.json"
( export OMP_NUM_THREADS=1
  for w in net net_gate; do
    $PY -m realcam eval --weights "$WORK/weights_$w" --scenes 5 --first-scene 5 --no-teacher \
      --out "$WORK/eval_v2_val_$w.json" &
  done
  wait )
$PY scripts/paired_claims.py "$WORK/eval_v2_val_net_gate.json" --against "$WORK/eval_v2_val_net.json"
# 10. the depth network trained longer: seed 11 again, on 2,000 clips for 5,000 steps (two threads, 53 min), scored
#     against step 8's on the benchmark's source clips (no model runs), attached to step 6z's teacher and student in
#     its place, judged on the scenes the settings are chosen on (5-9) with the source's path and without it, then on
#     the benchmark and scenes 10-14 (docs/results.md, "World v2: the depth network trained longer"; level, not embedded)
$PY scripts/depth_net_probe.py train --out "$WORK/depth_net_long.safetensors" --scenes 2000 --steps 5000 --seed 11
for F in 0 5 10; do
  $PY scripts/depth_net_probe.py score --net "$WORK/depth_net.safetensors" "$WORK/depth_net_long.safetensors" --first $F \
    --out "$WORK/depth_net_score_$F.json"
done
$PY scripts/depth_net_probe.py score --table "$WORK/depth_net_score_0.json" "$WORK/depth_net_score_5.json" \
  "$WORK/depth_net_score_10.json"
mkdir -p "$WORK/weights_net_long"
cp "$WORK"/weights_agree/*.safetensors "$WORK/weights_net_long/"
for m in teacher student; do
  $PY -m realcam set-guide-depth-net --weights "$WORK/weights_net_long/$m.safetensors" --net "$WORK/depth_net_long.safetensors"
done
readme "step 10: step 6z's teacher and student drawing their guide through the depth network of seed 11 trained longer \
(not embedded)" > "$WORK/weights_net_long/README.json"
( export OMP_NUM_THREADS=1
  for w in net net_long; do
    $PY -m realcam eval --weights "$WORK/weights_$w" --scenes 5 --first-scene 5 --no-teacher --source-camera unknown \
      --out "$WORK/eval_v2_val_unknown_$w.json" &
  done
  $PY -m realcam eval --weights "$WORK/weights_net_long" --scenes 5 --first-scene 5 --no-teacher \
    --out "$WORK/eval_v2_val_net_long.json"
  wait )
$PY scripts/paired_claims.py "$WORK/eval_v2_val_net_long.json" --against "$WORK/eval_v2_val_net.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_unknown_net_long.json" --against "$WORK/eval_v2_val_unknown_net.json"
$PY -m realcam eval --weights "$WORK/weights_net_long" --scenes 5 --out "$WORK/eval_v2_net_long.json"
$PY -m realcam eval --weights "$WORK/weights_net_long" --scenes 5 --first-scene 10 --no-teacher \
  --out "$WORK/eval_v2_net_long_fresh.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_long.json" --against "$WORK/eval_v2_net.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_long_fresh.json" --against "$WORK/eval_v2_net_fresh.json"
$PY scripts/bar_check.py "$WORK/eval_v2_net_long.json" "$WORK/eval_v2_net_long_fresh.json"
# 11. the student chain trained on guides drawn through the network, on the CPU (docs/results.md, "World v2: the student
#     chain on the network's guides, on the CPU"): 256 more DiT scenes made as step 9's 64 (scenes 64-319, two
#     processes of one thread, 25 min) and joined with them (merge-latents); from step 8's teacher, step 6p's causal
#     initialisation (1,800 steps, chunk 3, lambda = 1; two threads, 28 min), DMD's 200 steps (one thread, 13 min) and
#     the DMD student's gate alone re-taught (300 steps, two threads, 2 min), all on those 320 scenes; each stage judged
#     as the student on the scenes the settings are chosen on (5-9) against step 8's, then the last on the benchmark
#     (with the teacher), scenes 10-14 and, without the source's path, 5-9: the embedded model
more_net_scenes() {  # total base count first...: COUNT more scenes from each FIRST (one process of one thread each),
  #                  joined after $WORK/dit_latents_net<base> into $WORK/dit_latents_net<total>
  local total=$1 base=$2 count=$3 parts=() F
  shift 3
  for F in "$@"; do
    parts+=("$WORK/dit_latents_net_$F")
    [ -d "$WORK/dit_latents_net_$F" ] || OMP_NUM_THREADS=1 $PY -m realcam synth-latents \
      --out "$WORK/dit_latents_net_$F" "${NETSYN[@]}" --scenes "$count" --first "$F" &
  done
  wait
  [ -d "$WORK/dit_latents_net$total" ] || $PY -m realcam merge-latents --out "$WORK/dit_latents_net$total" \
    "$WORK/dit_latents_net$base" "${parts[@]}"
}
more_net_scenes 320 64 128 64 192
N320=(--data "$WORK/dit_latents_net320" "${FSW[@]}")
net_chain() {  # prefix teacher [latents [steps]]: the causal initialisation (steps, default 1,800), DMD and gate from
  #            that teacher on those latents (default step 11's 320 scenes), runs $R/<prefix>_{causal,dmd,gate};
  #            DMD on DMD_THREADS threads (default 1, as step 11 ran it beside an eval)
  local d=(--data "${3:-$WORK/dit_latents_net320}" "${FSW[@]}")
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${d[@]}" --out "$R/$1_causal" \
    --steps "${4:-1800}" --set model.init="$2" --set causal.chunk=3 --set guide_gate_weight=1.0
  OMP_NUM_THREADS="${DMD_THREADS:-1}" $PY -m realcam distill --config configs/world_v2_distill.yaml "${d[@]}" \
    --out "$R/$1_dmd" \
    --set model.init="$R/$1_causal/student.safetensors" --set distill.teacher="$2"
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${d[@]}" "${GATE[@]}" \
    --out "$R/$1_gate" --set model.init="$R/$1_dmd/generator.safetensors"
}
chain_folder() {  # name teacher run made-by: $WORK/weights_<name>, the VAE, that teacher and runs/<run> as the student
  mkdir -p "$WORK/weights_$1"
  cp "$WORK/weights_net/vae.safetensors" "$2" "$WORK/weights_$1/"
  cp "$R/$3.safetensors" "$WORK/weights_$1/student.safetensors"
  readme "$4" > "$WORK/weights_$1/README.json"
}
judge_val() {  # name against: weights_<name> as the student on scenes 5-9, paired with eval_v2_val_<against>.json
  $PY -m realcam eval --weights "$WORK/weights_$1" --scenes 5 --first-scene 5 --no-teacher \
    --out "$WORK/eval_v2_val_$1.json"
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_$1.json" --against "$WORK/eval_v2_val_$2.json"
  $PY scripts/bar_check.py "$WORK/eval_v2_val_$1.json"
}
net_chain v2_chain "$WORK/weights_net/teacher.safetensors"
for n in chain_causal:v2_chain_causal/student chain_dmd:v2_chain_dmd/generator chain:v2_chain_gate/student; do
  chain_folder "${n%%:*}" "$WORK/weights_net/teacher.safetensors" "${n#*:}" \
    "step 11: step 8's teacher; as the student, ${n#*:} of the chain trained on the network's guides"
done
( export OMP_NUM_THREADS=1
  for n in chain_causal chain_dmd chain; do
    $PY -m realcam eval --weights "$WORK/weights_$n" --scenes 5 --first-scene 5 --no-teacher \
      --out "$WORK/eval_v2_val_net_$n.json" &
  done
  wait )
for n in chain_causal chain_dmd chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_net_$n.json" --against "$WORK/eval_v2_val_net.json"
  $PY scripts/bar_check.py "$WORK/eval_v2_val_net_$n.json"
done
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_chain" --scenes 5 --out "$WORK/eval_v2_net_chain.json" &
  $PY -m realcam eval --weights "$WORK/weights_chain" --scenes 5 --first-scene 10 --no-teacher \
    --out "$WORK/eval_v2_net_chain_fresh.json" &
  wait )
$PY -m realcam eval --weights "$WORK/weights_chain" --scenes 5 --first-scene 5 --no-teacher --source-camera unknown \
  --out "$WORK/eval_v2_val_unknown_net_chain.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_chain.json" --against "$WORK/eval_v2_net.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_chain_fresh.json" --against "$WORK/eval_v2_net_fresh.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_unknown_net_chain.json" --against "$WORK/eval_v2_val_unknown_net.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_chain.json"
$PY scripts/bar_check.py "$WORK/eval_v2_net_chain.json" "$WORK/eval_v2_net_chain_fresh.json"
# 12. the teacher too trained on the network's guides (docs/results.md, "World v2: the teacher trained on the network's
#     guides"): step 8's teacher trained 800 more steps on step 11's 320 scenes with step 6n's teacher settings (the
#     checkpoint's conditioning, lr 3e-4 restarted, guide embedding and gate x3, lambda = 1; two threads, 21 min); then
#     step 11's student given 200 more DMD steps with that teacher as the real score and, matched, 200 more with step
#     8's (one thread each, side by side, 16 min), each student's gate then re-taught 300 steps as in step 11 (two
#     threads, 3 min each); both judged on the scenes the settings are chosen on (5-9), against each other and against
#     step 11's, the new teacher against step 8's; not embedded
TN="$R/v2_chain_teacher"
MORE_TEACHER=(--config configs/world_v2_teacher_warp.yaml "${N320[@]}" --steps 800 --set 'model.conditioning_overrides={}'
              --set optim.lr=0.0003 --set 'optim.lr_scale={"guide_embedding.": 3, "guide_gate.": 3}'
              --set guide_gate_weight=1.0)   # step 12's teacher settings (step 20 trains a deeper teacher with them)
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${MORE_TEACHER[@]}" --out "$TN" \
  --set model.init="$WORK/weights_net/teacher.safetensors"
for n in new:"$TN/teacher.safetensors" old:"$WORK/weights_net/teacher.safetensors"; do
  OMP_NUM_THREADS=1 $PY -m realcam distill --config configs/world_v2_distill.yaml "${N320[@]}" \
    --out "$R/v2_more_dmd_${n%%:*}" --set model.init="$R/v2_chain_gate/student.safetensors" \
    --set distill.teacher="${n#*:}" &
done
wait
for n in new old; do
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${N320[@]}" "${GATE[@]}" \
    --out "$R/v2_more_gate_$n" --set model.init="$R/v2_more_dmd_$n/generator.safetensors"
  mkdir -p "$WORK/weights_more_$n"
  cp "$WORK/weights_net/vae.safetensors" "$R/v2_more_gate_$n/student.safetensors" "$WORK/weights_more_$n/"
done
cp "$TN/teacher.safetensors" "$WORK/weights_more_new/"
cp "$WORK/weights_net/teacher.safetensors" "$WORK/weights_more_old/"
readme "step 12: the teacher trained on the network's guides; as the student, step 11's given 200 more DMD steps with \
it and its gate re-taught" > "$WORK/weights_more_new/README.json"
readme "step 12's control: step 8's teacher; as the student, step 11's given 200 more DMD steps with it and its gate \
re-taught" > "$WORK/weights_more_old/README.json"
# (the new folder with its teacher and step 8's as a variant, the control without; one thread each, side by side)
( export OMP_NUM_THREADS=1
  $PY -m realcam eval --weights "$WORK/weights_more_new" --scenes 5 --first-scene 5 \
    --variant net_before800="$WORK/weights_net/teacher.safetensors" --out "$WORK/eval_v2_val_more_new.json" &
  $PY -m realcam eval --weights "$WORK/weights_more_old" --scenes 5 --first-scene 5 --no-teacher \
    --out "$WORK/eval_v2_val_more_old.json" &
  wait )
$PY scripts/paired_claims.py "$WORK/eval_v2_val_more_new.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_more_new.json" --against "$WORK/eval_v2_val_more_old.json"
for n in new old; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_more_$n.json" --against "$WORK/eval_v2_val_net_chain.json"
done
# and the new folder on the benchmark's scenes, with its teacher (against step 11's run there: both teachers)
$PY -m realcam eval --weights "$WORK/weights_more_new" --scenes 5 --out "$WORK/eval_v2_net_more.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_net_more.json" --against "$WORK/eval_v2_net_chain.json"
# 13. the chain again from the teacher of step 12 (docs/results.md, "World v2: the student chain from the teacher trained
#     on the network's guides"): step 11's three stages with that teacher as the causal initialisation's start and DMD's
#     real score, on the same 320 scenes and settings (two threads, 56 min; DMD on one thread, 17 min, beside the first
#     stage's eval); the first and last stages judged as the student on the scenes the settings are chosen on (5-9)
#     against step 11's same stages; level, not embedded
net_chain v2_new "$TN/teacher.safetensors"
for n in new_chain_causal:v2_new_causal/student new_chain:v2_new_gate/student; do
  chain_folder "${n%%:*}" "$TN/teacher.safetensors" "${n#*:}" \
    "step 13: step 12's teacher; as the student, ${n#*:} of the chain from it"
done
judge_val new_chain_causal net_chain_causal
judge_val new_chain net_chain
# 14. the student chain on 480 scenes (docs/results.md, "World v2: the student chain on 480 scenes, and step 11's
#     chain re-run"): 160 more DiT scenes (320-479) made as step 11's (two processes of one thread, 80 scenes each, 18-22
#     min) and joined with its 320; step 11's three stages from its teacher with its settings and step counts on those
#     480 scenes (46 min, DMD 7 min on two threads where net_chain gives it one, gate 3 min); the first and last stages
#     judged as the student on the scenes the settings are chosen on (5-9) against step 15's same stages (two threads, 7
#     min each): a little behind (-0.06 dB at 1x), loops closed better, the open bars unmoved; not embedded
more_net_scenes 480 320 80 320 400
net_chain v2_480 "$WORK/weights_net/teacher.safetensors" "$WORK/dit_latents_net480"
# 15. the control: step 11's chain re-run as it stands (the same call as step 11's, only the runs' names differ; 47
#     min, DMD 7 min, gate 3 min), judged as step 14's against step 11's. On the machine that ran step 11 it is step 11
#     bit for bit; the section's ran on another, whose sums differ in their last bits: how far two runs of one chain
#     land apart there (PSNR within 0.01 dB, registration up to 6 points a family)
net_chain v2_rerun "$WORK/weights_net/teacher.safetensors"
for n in 480_chain_causal:v2_480_causal/student 480_chain:v2_480_gate/student rerun_chain_causal:v2_rerun_causal/student \
    rerun_chain:v2_rerun_gate/student; do
  chain_folder "${n%%:*}" "$WORK/weights_net/teacher.safetensors" "${n#*:}" \
    "steps 14-15: step 8's teacher; as the student, ${n#*:}"
done
for n in rerun_chain_causal:net_chain_causal rerun_chain:net_chain 480_chain_causal:rerun_chain_causal \
    480_chain:rerun_chain; do
  OMP_NUM_THREADS=2 judge_val "${n%%:*}" "${n#*:}"
done
$PY scripts/paired_claims.py "$WORK/eval_v2_val_480_chain.json" --against "$WORK/eval_v2_val_net_chain.json"
# 16. step 14's chain with the causal initialisation's steps scaled to keep step 11's passes over each clip
#     (docs/results.md, "World v2: the student chain on 480 scenes at step 11's passes"): 2,700 steps of batch 8 over
#     480 scenes' 1,920 clips is 11.25 passes, as 1,800 over 320 scenes' (66 min); DMD and the gate as in step 11; the
#     first and last stages judged as the student on the scenes the settings are chosen on (5-9) against step 15's
#     and step 14's same stages, the last also against step 11's: level, loops closed better, the open bars unmoved;
#     not embedded
passes_chain() {  # name latents steps step: step 8's teacher's chain on those latents with that many causal steps,
  #              its causal and finished stages' folders weights_<name>_chain{_causal,}, both judged against step 15's
  net_chain "v2_$1" "$WORK/weights_net/teacher.safetensors" "$2" "$3"
  for n in "$1_chain_causal:v2_$1_causal/student" "$1_chain:v2_$1_gate/student"; do
    chain_folder "${n%%:*}" "$WORK/weights_net/teacher.safetensors" "${n#*:}" \
      "step $4: step 8's teacher; as the student, ${n#*:}"
  done
  for n in "$1_chain_causal:rerun_chain_causal" "$1_chain:rerun_chain"; do
    OMP_NUM_THREADS=2 judge_val "${n%%:*}" "${n#*:}"
  done
}
passes_chain 480p "$WORK/dit_latents_net480" 2700 16
for n in 480p_chain_causal:480_chain_causal 480p_chain:480_chain 480p_chain:net_chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_${n%%:*}.json" --against "$WORK/eval_v2_val_${n#*:}.json"
done
# 17. step 16's chain on 960 scenes at step 11's passes (docs/results.md, "World v2: the student chain on 960 scenes"):
#     480 more DiT scenes (480-959) made as step 14's (two processes of one thread, 240 scenes each, 74 min) and
#     joined with its 480; 5,400 causal steps of batch 8 over 3,840 clips is 11.25 passes (2 h 25 min), DMD and the
#     gate as in step 11; the first and last stages judged as the student on the scenes the settings are chosen on
#     (5-9) against step 15's, the last also against step 16's and step 11's, then on the benchmark's scenes and
#     10-14 against step 11's: ahead (+0.10 dB on the benchmark, +0.18 on 10-14), loops closed better, three of the
#     four open bars moved the right way, none closed; embedded (scripts/train_tiny.sh copies weights_960p_chain), so
#     judged on the benchmark with the teacher too (the claims), and without the source's path on scenes 5-9
more_net_scenes 960 480 240 480 720
passes_chain 960p "$WORK/dit_latents_net960" 5400 17
for n in 960p_chain_causal:480p_chain_causal 960p_chain:480p_chain 960p_chain:net_chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_${n%%:*}.json" --against "$WORK/eval_v2_val_${n#*:}.json"
done
( export OMP_NUM_THREADS=1  # then, ahead on the mean, on the benchmark's scenes and 10-14 (the teacher is step 11's)
  $PY -m realcam eval --weights "$WORK/weights_960p_chain" --scenes 5 --out "$WORK/eval_v2_960p_chain.json" &
  $PY -m realcam eval --weights "$WORK/weights_960p_chain" --scenes 5 --first-scene 10 --no-teacher \
    --out "$WORK/eval_v2_960p_chain_fresh.json" &
  wait )
$PY scripts/paired_claims.py "$WORK/eval_v2_960p_chain.json" --against "$WORK/eval_v2_net_chain.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_960p_chain_fresh.json" --against "$WORK/eval_v2_net_chain_fresh.json"
$PY scripts/bar_check.py "$WORK/eval_v2_960p_chain.json" "$WORK/eval_v2_960p_chain_fresh.json"
$PY -m realcam eval --weights "$WORK/weights_960p_chain" --scenes 5 --first-scene 5 --no-teacher --source-camera unknown \
  --out "$WORK/eval_v2_val_unknown_960p_chain.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_unknown_960p_chain.json" --against "$WORK/eval_v2_val_unknown_net_chain.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_960p_chain.json"  # student - teacher
# 18. step 17's causal initialisation trained on from its last checkpoint to 7,200 steps, 15 passes over each clip
#     (docs/results.md, "World v2: the 960-scene student trained longer"; the cosine recomputed over 7,200 steps, so
#     the learning rate steps up from its floor at step 5,400; 47 min), DMD and the gate as in step 11; the first and
#     last stages judged as the student on the scenes the settings are chosen on (5-9) against step 15's and step
#     17's: level (-0.00 dB), its loss flat, so not judged further; not embedded
[ -d "$R/v2_960l_causal" ] || cp -r "$R/v2_960p_causal" "$R/v2_960l_causal"
passes_chain 960l "$WORK/dit_latents_net960" 7200 18
for n in 960l_chain_causal:960p_chain_causal 960l_chain:960p_chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_${n%%:*}.json" --against "$WORK/eval_v2_val_${n#*:}.json"
done
# 19. a deeper student (docs/results.md, "World v2: a deeper student"): step 8's teacher grown from 4 blocks to 6
#     (grow-depth --after 1,3: a copy of blocks 1 and 3 after each, its branches' last layers zero, so it computes
#     what the teacher does), then step 11's causal initialisation from it (1,800 steps, chunk 3, lambda = 1) on step
#     11's 320 scenes; that stage judged as the student on the scenes the settings are chosen on (5-9) against step
#     15's and step 11's same stage: level (+0.03 dB), the open bars moved a little, none closed; not taken further
grown_student() {  # name made-by: step 11's causal initialisation from $WORK/teacher_<name>.safetensors (step 8's
  #                  teacher grown) on step 11's 320 scenes, judged as the student on scenes 5-9 against step 15's
  OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${N320[@]}" --out "$R/v2_$1_causal" \
    --steps 1800 --set model.init="$WORK/teacher_$1.safetensors" --set causal.chunk=3 --set guide_gate_weight=1.0
  chain_folder "$1_chain_causal" "$WORK/weights_net/teacher.safetensors" "v2_$1_causal/student" "$2"
  OMP_NUM_THREADS=2 judge_val "$1_chain_causal" rerun_chain_causal
}
$PY -m realcam grow-depth --weights "$WORK/weights_net/teacher.safetensors" --after 1,3 --out "$WORK/teacher_deep.safetensors"
grown_student deep "step 19: step 8's teacher; as the student, the causal initialisation of a 6-block student grown from it"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_deep_chain_causal.json" --against "$WORK/eval_v2_val_net_chain_causal.json"
# 20. a deeper teacher (docs/results.md, "World v2: a deeper teacher"): step 19's 6-block growth of step 8's teacher
#     trained as step 12's teacher was, 800 steps on step 11's 320 scenes with step 12's settings (two threads, 39 min
#     on the slower VM), every other thing matched: step 12's teacher is its control, the same steps from the 4-block
#     one. Judged as a teacher variant on the scenes the settings are chosen on (5-9), paired with step 12's teacher
#     and with step 8's (the teacher and the net_before800 variant of step 12's run there): level
#     (+0.03 dB), arcs unmoved; not taken further
OMP_NUM_THREADS=2 $PY -m realcam train-teacher "${MORE_TEACHER[@]}" --out "$R/v2_deep_teacher" \
  --set model.init="$WORK/teacher_deep.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --first-scene 5 --no-teacher \
  --variant deep_teacher800="$R/v2_deep_teacher/teacher.safetensors" --out "$WORK/eval_v2_val_deep_teacher.json"
for n in teacher net_before800; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_deep_teacher.json" --against "$WORK/eval_v2_val_more_new.json" \
    --pair deep_teacher800="$n"
done
$PY scripts/bar_check.py "$WORK/eval_v2_val_deep_teacher.json" --method deep_teacher800
#     and as DMD's real score, matched to step 12's: step 11's student given 200 more DMD steps with it (two threads),
#     its gate re-taught 300 steps as in step 11, judged as the student on 5-9 against step 12's two students (200 more
#     DMD steps with step 12's teacher and with step 8's) and step 11's: the same as with step 12's teacher (+0.00 dB)
OMP_NUM_THREADS=2 $PY -m realcam distill --config configs/world_v2_distill.yaml "${N320[@]}" --out "$R/v2_more_dmd_deep" \
  --set model.init="$R/v2_chain_gate/student.safetensors" --set distill.teacher="$R/v2_deep_teacher/teacher.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-causal --config configs/world_v2_causal.yaml "${N320[@]}" "${GATE[@]}" \
  --out "$R/v2_more_gate_deep" --set model.init="$R/v2_more_dmd_deep/generator.safetensors"
chain_folder more_deep "$R/v2_deep_teacher/teacher.safetensors" v2_more_gate_deep/student \
  "step 20: step 20's teacher; as the student, step 11's given 200 more DMD steps with it and its gate re-taught"
OMP_NUM_THREADS=2 judge_val more_deep more_new
for n in more_old net_chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_more_deep.json" --against "$WORK/eval_v2_val_$n.json"
done
# 21. a teacher trained from the start (docs/results.md, "World v2: a teacher trained from the start"): fresh weights of
#     step 8's teacher's shape with its settings and depth network (fresh-model), trained 1,600 steps on step 11's 320
#     scenes with everything the embedded teacher learned in stages at once (lr 2e-3, 100 warm-up steps, cosine, as
#     world v2's first teacher; the gate term at lambda = 1; two threads, ~75 min): how far one CPU session takes a
#     teacher from the start, which a GPU run of another shape (scripts/gpu_tiny_chain.sh with FRESH) would begin the
#     same way. Judged as a teacher variant on the scenes the settings are chosen on (5-9), paired with step 8's
#     teacher (the net_before800 variant of step 12's run there): level at 1x (-0.01 dB), ahead on arcs (+0.31 dB,
#     motion error 2.82 px against 3.19), behind at 2x (-0.23 dB), its loss still falling; not embedded
$PY -m realcam fresh-model --like "$WORK/weights_net/teacher.safetensors" --out "$WORK/teacher_fresh_init.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml "${N320[@]}" \
  --out "$R/v2_fresh_teacher" --steps 1600 --set model.init="$WORK/teacher_fresh_init.safetensors" \
  --set 'model.conditioning_overrides={}' --set optim.lr=0.002 --set optim.warmup_steps=100 --set guide_gate_weight=1.0
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --first-scene 5 --no-teacher \
  --variant fresh_teacher1600="$R/v2_fresh_teacher/teacher.safetensors" --out "$WORK/eval_v2_val_fresh_teacher.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh_teacher.json" --against "$WORK/eval_v2_val_more_new.json" \
  --pair fresh_teacher1600=net_before800
# 22. the student chain from step 21's teacher (docs/results.md, "World v2: the student chain from a teacher trained from
#     the start"): step 11's three stages with that teacher as the causal initialisation's start and DMD's real score,
#     on the same 320 scenes and settings (causal initialisation 1,800 steps at 2.1-2.4 s, DMD on two threads 10 min,
#     gate 4.5 min); each stage judged as the student on the scenes the settings are chosen on (5-9) against the same
#     stage of step 15's re-run (DMD's against step 11's), the last also against step 17's (the embedded student):
#     behind (-0.28 dB at 1x, arcs -0.69), the loss already at the causal stage, loops closed better; not embedded
fresh_chain() {  # prefix name teacher made-by: net_chain from that teacher (DMD on two threads), its stages as the
  #              students of $WORK/weights_<name>{_causal,_dmd,}, each judged on scenes 5-9 against the control's stage
  local n
  DMD_THREADS=2 net_chain "$1" "$3"
  for n in "$2_causal:$1_causal/student" "$2_dmd:$1_dmd/generator" "$2:$1_gate/student"; do
    chain_folder "${n%%:*}" "$3" "${n#*:}" "$4; as the student, ${n#*:} of the chain from it"
  done
  for n in "$2_causal:rerun_chain_causal" "$2_dmd:net_chain_dmd" "$2:rerun_chain"; do
    OMP_NUM_THREADS=2 judge_val "${n%%:*}" "${n#*:}"
  done
}
fresh_chain v2_fresh fresh_chain "$R/v2_fresh_teacher/teacher.safetensors" "step 22: step 21's teacher"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh_chain.json" --against "$WORK/eval_v2_val_960p_chain.json"
# 23. step 21's teacher trained on until its loss settles, then the student chain from it (docs/results.md, "World v2:
#     the teacher trained from the start, trained on, and its chain"): 1,600 more steps from step 21's weights (the
#     schedule restarted at lr 5e-4, 20 warm-up steps, cosine; otherwise step 21's settings; two threads, 56 min; its
#     loss settled at 0.290), judged as a teacher variant on scenes 5-9 against step 8's teacher and step 21's; then
#     step 22's chain from it (the same three stages, settings and step counts), each stage judged as the student on
#     scenes 5-9 against the control's same stage (step 15's re-run; DMD's against step 11's), the last also against
#     step 17's and step 22's: +0.05 dB on step 22's chain, still behind the control (-0.23 dB at 1x); not embedded
TF="$R/v2_fresh_teacher_more/teacher.safetensors"
OMP_NUM_THREADS=2 $PY -m realcam train-teacher --config configs/world_v2_teacher_warp.yaml "${N320[@]}" \
  --out "$R/v2_fresh_teacher_more" --steps 1600 --set model.init="$R/v2_fresh_teacher/teacher.safetensors" \
  --set 'model.conditioning_overrides={}' --set optim.lr=0.0005 --set optim.warmup_steps=20 --set guide_gate_weight=1.0
fresh_chain v2_fresh2 fresh2_chain "$TF" "step 23: step 21's teacher trained on"
for n in 960p_chain fresh_chain; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh2_chain.json" --against "$WORK/eval_v2_val_$n.json"
done
$PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh2_chain_causal.json" --against "$WORK/eval_v2_val_fresh_chain_causal.json"
OMP_NUM_THREADS=2 $PY -m realcam eval --weights "$WORK/weights_net" --scenes 5 --first-scene 5 --no-teacher \
  --variant fresh_teacher_more="$TF" --out "$WORK/eval_v2_val_fresh_teacher_more.json"
$PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh_teacher_more.json" --against "$WORK/eval_v2_val_more_new.json" \
  --pair fresh_teacher_more=net_before800
$PY scripts/paired_claims.py "$WORK/eval_v2_val_fresh_teacher_more.json" --against "$WORK/eval_v2_val_fresh_teacher.json" \
  --pair fresh_teacher_more=fresh_teacher1600
# 24. a wider student (docs/results.md, "World v2: a wider student"): step 8's teacher grown to twice its width
#     (grow-width --factor 2: dim 256, ffn_dim 768, 8 heads of the same size, each channel, head and unit copied and
#     every weight reading a copy split among the copies with zero-sum noise, so it computes what the teacher does),
#     then step 19's causal initialisation from it (1,800 steps, chunk 3, lambda = 1, step 11's 320 scenes; two
#     threads, 4.6 s a step), judged as the student on scenes 5-9 against step 15's and step 19's same stage:
#     +0.08 dB over step 15's, level with step 19's (+0.05), no open bar closed; not taken further, not embedded
$PY -m realcam grow-width --weights "$WORK/weights_net/teacher.safetensors" --factor 2 --out "$WORK/teacher_wide.safetensors"
grown_student wide "step 24: step 8's teacher; as the student, the causal initialisation of a student twice as wide grown from it"
for n in deep_chain_causal net_chain_causal; do
  $PY scripts/paired_claims.py "$WORK/eval_v2_val_wide_chain_causal.json" --against "$WORK/eval_v2_val_$n.json"
done
$PY scripts/paired_losses.py "$R/v2_wide_causal" "$R/v2_deep_causal" --key student/loss --key student/fm \
  --key student/gate --window 200
echo "done: $WORK/weights_960p_chain  (python -m realcam demo --weights $WORK/weights_960p_chain)"
