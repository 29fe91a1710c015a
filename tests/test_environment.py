"""`superpose_lib.environment`: the device choice and the thread setting the library uses for small work."""

import pytest
import torch

from superpose_lib.environment import cpu_threads, default_device, report_environment


def test_cpu_threads_sets_and_restores_even_after_an_error():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with pytest.raises(RuntimeError, match="inside"):
        with cpu_threads(target):
            assert torch.get_num_threads() == target
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_cpu_threads_leaves_a_gpu_run_alone():
    before = torch.get_num_threads()
    with cpu_threads(1 if before != 1 else 2, "cuda"):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_report_names_the_device(capsys):
    report_environment()
    line = capsys.readouterr().out
    assert "superpose_lib" in line and f"device: {default_device().type}" in line
