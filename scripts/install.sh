#!/usr/bin/env bash
# Install topoml into ./.venv (idempotent). PyTorch comes from the pinned CPU build first, so that
# resolving `torch>=2.4` never downloads a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[nets,test,dask,bench,large]"
.venv/bin/python -c "import torch, topoml; assert '+cpu' in torch.__version__ or not torch.cuda.is_available(); print('topoml', topoml.__version__, '| torch', torch.__version__)"
