#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with CPU torch and the dev extras.
# Idempotent: a second run only checks what is installed. Used by the README quick start and by CI.
#   VENV=path   where to put the environment (default .venv)
#   EXTRAS=...  which extras to install (default dev,camera,train,eval)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-dev,camera,train,eval}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install -q --disable-pip-version-check -c .ci/constraints.txt)
# torch first, from the CPU build the constraints pin (never a CUDA build from the registry)
"$PY" -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" -e ".[${EXTRAS}]"
"$PY" -c "import torch, realcam; print('realcam', realcam.__version__, '| torch', torch.__version__)"
# Test-only: ComfyUI's runtime requirements and its 0.3.75 tree, extracted into the ignored .comfyui/
if [[ ",${EXTRAS}," == *",dev,"* ]]; then
  "$PY" -m tests.harness.comfyui --runtime
fi
# Test-only: the browser test drives Debian's chromium with npm playwright-core (no browser download).
if [[ ",${EXTRAS}," == *",dev,"* ]]; then
  if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "warning: could not install chromium; the browser test will be skipped outside CI"
  fi
  "$PY" -m tests.harness.browser || echo "warning: browser tools unavailable; the browser test will be skipped outside CI"
fi
