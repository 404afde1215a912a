#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, Qt offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
.venv/bin/lint-imports --config pyproject.toml
exec .venv/bin/python -m pytest -q "$@"
