#!/usr/bin/env bash
# The CUDA checks, for a machine with an NVIDIA GPU (CI has none, so there these tests skip):
#   1. the library's tests, whose CUDA cases (marked "needs CUDA") then run instead of skipping;
#   2. the benchmarks with the course's code on the GPU.
# It needs only the library's own requirements plus pytest, hypothesis and scipy (no JupyterLab), so it also runs
# from a plain checkout on a GPU machine: `PY=python3 bash tools/gpu_check.sh` (the checkout goes on PYTHONPATH).
# Usage: make gpu-check, or bash tools/gpu_check.sh [--quick]   (--quick: one benchmark size, fewer steps)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
case "${1:-}" in
    "") sizes="" steps="" ;;
    --quick) sizes="--sizes 256x1024" steps="--quick" ;;
    *) echo "usage: bash tools/gpu_check.sh [--quick]" >&2; exit 2 ;;
esac

"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (torch.cuda.is_available() is False); run this on a GPU machine")
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
PYEOF

# The library's tests: every test of a core module. --noconftest: the root conftest.py reports notebook times and
# needs nbformat; these tests need neither.
"$PY" -m pytest -q -p no:cacheprovider --noconftest -rs \
    tests/test_sparse.py tests/test_dictionary_learning.py tests/test_sae.py tests/test_toy_models.py \
    tests/test_toy_models_hidden_l1.py tests/test_geometry.py tests/test_digits.py tests/test_metrics.py \
    tests/test_interference.py tests/test_detection.py tests/test_environment.py tests/test_engine.py \
    tests/test_features.py

# (unquoted on purpose: each is empty or its words)
"$PY" benchmarks/bench_sparse.py --device cuda $sizes
"$PY" benchmarks/bench_sae.py --device cuda $steps
"$PY" benchmarks/bench_toy_models.py --device cuda $steps
