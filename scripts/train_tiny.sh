#!/usr/bin/env bash
# Reproduce the embedded tiny RealCam (realcam/assets/world_v2): the world-v2 chain of scripts/train_world_v2.sh
# (same WORK=… and VAE=… settings as there), then its weights copied into the package. The first, world-v1 model
# (realcam/assets/tiny) is scripts/train_world_v1.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export WORK=${WORK:-v2_work}
bash scripts/train_world_v2.sh
cp "$WORK"/weights_960p_chain/vae.safetensors "$WORK"/weights_960p_chain/teacher.safetensors \
  "$WORK"/weights_960p_chain/student.safetensors realcam/assets/world_v2/
echo "done: realcam/assets/world_v2 (python -m realcam demo)"
