#!/usr/bin/env bash
# Wheels the GPU machine of the `device` tool lacks (its Python 3.12 has torch, numpy, h5py, safetensors, but not
# pydantic), downloaded for CPython 3.12 / manylinux x86_64 at the versions of this checkout's .venv, into DIR
# (default .whl, git-excluded). On the device (carry DIR):
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site DIR/*.whl
#   export PYTHONPATH=/tmp/site:$PWD/src
# Usage: bash scripts/gpu_wheels.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.whl}"
py=.venv/bin/python
pkgs=$("$py" - <<'PY'
from importlib.metadata import version
print(" ".join(f"{p}=={version(p)}" for p in
               ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions")))
PY
)
"$py" -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$dir" $pkgs
ls "$dir"
