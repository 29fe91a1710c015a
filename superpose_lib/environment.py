"""The environment report printed by the setup cell of every notebook."""

from __future__ import annotations

import contextlib
import platform

import torch

from . import _validate


def default_device() -> torch.device:
    """CUDA when torch sees a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def report_environment() -> None:
    """Print the Python, torch and superpose_lib versions and the device the course will use."""
    from . import __version__

    device = default_device()
    if device.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        where = f"cpu ({torch.get_num_threads()} threads)"
    print(
        f"Python {platform.python_version()} | torch {torch.__version__} | "
        f"superpose_lib {__version__} | device: {where}"
    )


@_validate.arguments(
    threads=_validate.Int(1),
    device=_validate.Device(present=False),
)
@contextlib.contextmanager
def cpu_threads(threads: int, device="cpu"):
    """Run the block with `threads` intra-op CPU threads, restoring the caller's setting afterwards.

    The library uses one thread for small work: on a small matrix a second thread saves little on an idle
    machine and costs many times more on a busy one (`superpose_lib.engine.ONE_THREAD_BELOW`). Nothing changes
    when `device` is a GPU.
    """
    saved = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)
