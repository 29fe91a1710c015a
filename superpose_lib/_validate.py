"""Argument checks shared by the public functions: each raises a ValueError that names the argument."""

from __future__ import annotations

import numbers

import torch


def positive_int(name: str, value, minimum: int = 1) -> int:
    """Return `value` as an int, or raise a ValueError naming `name` unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def tensor(name: str, value, ndim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Convert `value` to a floating-point tensor and check its number of dimensions."""
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"{name} must be a tensor or array of numbers, got {type(value).__name__}") from error
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.ndim not in allowed:
            wanted = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {wanted} dimensions, got shape {tuple(value.shape)}")
    return value


def generator(seed=None, generator: torch.Generator | None = None, device="cpu") -> torch.Generator:
    """Return the generator to draw from: `generator` if given, else a new one seeded with `seed`.

    With neither, the new generator takes a fresh random seed (so results differ run to run).
    """
    if generator is not None and seed is not None:
        raise ValueError("pass either seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    new = torch.Generator(device=device)
    if seed is None:
        new.seed()
    else:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        new.manual_seed(int(seed))
    return new


def device(value=None) -> torch.device:
    """Resolve a device argument: None means CPU; "cuda" is checked to exist."""
    if value is None:
        return torch.device("cpu")
    try:
        resolved = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f'device must be "cpu", "cuda" or a torch.device, got {value!r}') from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError('device "cuda" was asked for, but torch sees no CUDA device here; pass device="cpu"')
    return resolved
