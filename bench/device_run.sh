#!/usr/bin/env bash
# The one prepared call for a lent CUDA machine (torch with CUDA, numpy, networkx,
# onnxruntime; no Qt): the GPU benchmark, then every gpu-marked test. Results go to $OUT
# (the device tool brings that folder back): gpu.txt, and gpu_tests.txt to append to it.
# Under 8 minutes: the benchmark stops starting models after its --budget (260 s).
#   device run: bash bench/device_run.sh     (timeout_s 540 leaves room for a second try)
set -uo pipefail
out=${OUT:-/tmp/device_run}
mkdir -p "$out"
nvidia-smi -L 2>&1 | head -2
timeout 330 python3 bench/gpu.py --out "$out/gpu.txt" 2>&1 | tail -60
echo "gpu.py exit $?"
# -c /dev/null: no pyproject options (the CI plugins are not installed there); the tests
# carry their own marks and skip themselves without CUDA.
timeout 180 python3 -m pytest -c /dev/null -p no:cacheprovider --rootdir . -q \
    -W ignore::pytest.PytestUnknownMarkWarning tests/engine/test_gpu.py tests/engine/test_interop_gpu.py 2>&1 | tail -30 | tee "$out/gpu_tests.txt"
