#!/usr/bin/env bash
# The lab's install step, as the container image runs it (Dockerfile) and as CI runs it
# (no container engine there): a virtual environment with torch 2.13.0 and requirements.txt.
#
#   bash deploy/install.sh /opt/venv                       # torch from the default index
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash deploy/install.sh /opt/venv
#
# TORCH_INDEX_URL picks where torch comes from: the CPU build for an image (a plain
# `torch==2.13.0` from PyPI is the CUDA build on Linux, gigabytes). Then a smoke check:
# the lab's packages import, Keras runs on torch.
set -euo pipefail
VENV="${1:?usage: deploy/install.sh VENV_DIR}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"

python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  python -m pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "torch==2.13.0"
fi
python -m pip install --no-cache-dir -r "$HERE/requirements.txt"
KERAS_BACKEND=torch python - <<'PY'
import keras, plotly, streamlit, streamlit_ace, torch
assert keras.backend.backend() == "torch", keras.backend.backend()
print(f"installed: torch {torch.__version__}, keras {keras.__version__}, streamlit {streamlit.__version__}")
PY
