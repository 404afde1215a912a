#!/usr/bin/env bash
# Idempotent set-up: a .venv with torch and the project (dev extras). Quick when done already.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Install torch first, pinned: a bare 'torch' requirement in an empty venv pulls a multi-GB
# CUDA build here; with torch present, the project's 'torch>=2.3' installs nothing more.
if ! "$VPY" -c 'import importlib.util,sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
    echo "neurostudio setup: installing torch ${TORCH_VERSION:-2.13.0} (once)..." >&2
    "$VPY" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
fi
stamp=.venv/.neurostudio-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "neurostudio setup: installing the project and its dependencies..." >&2
    "$VPY" -m pip install -q -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" >&2 || true
    "$VPY" -c 'import torch, PySide6, pyqtgraph, networkx, pytest' && touch "$stamp"
fi
