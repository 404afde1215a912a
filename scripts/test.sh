#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, Qt offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
.venv/bin/lint-imports --config pyproject.toml
# One worker per core, a test file's tests together (its module fixtures are built once);
# pass -n 0 to run in this process (e.g. with a debugger).
exec .venv/bin/python -m pytest -q -n "${NEUROSTUDIO_TEST_WORKERS:-auto}" --dist loadfile "$@"
