"""`make gpu-check` (tools/gpu_check.sh) is run by hand on a GPU machine, never by CI: these tests keep its list
of test files in step with the suite, so that it cannot rot between the sessions that have a GPU."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"


def listed() -> set:
    return set(re.findall(r"tests/test_\w+\.py", SCRIPT.read_text()))


def test_every_listed_test_file_exists():
    files = listed()
    assert files, "tools/gpu_check.sh names no test files"
    missing = sorted(f for f in files if not (ROOT / f).is_file())
    assert not missing, f"tools/gpu_check.sh names test files that do not exist: {missing}"


def test_every_test_file_with_a_cuda_case_is_run_by_gpu_check():
    with_cuda = {
        f"tests/{path.name}"
        for path in (ROOT / "tests").glob("test_*.py")
        if path.name != Path(__file__).name and "torch.cuda.is_available()" in path.read_text()
    }
    assert with_cuda, "no test file has a CUDA case: the search itself is broken"
    left_out = sorted(with_cuda - listed())
    assert not left_out, f"add these to the pytest line of tools/gpu_check.sh: {left_out}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the script would run in full")
def test_gpu_check_stops_at_once_without_cuda_and_says_why():
    env = {**os.environ, "PY": sys.executable}
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "no CUDA device" in result.stderr and "GPU machine" in result.stderr
    assert "passed" not in result.stdout  # it stopped before running any test
