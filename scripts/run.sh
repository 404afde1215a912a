#!/usr/bin/env bash
# Set up (idempotent) and launch the app; with no argument it opens a built-in template.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m visualizer "$@"
