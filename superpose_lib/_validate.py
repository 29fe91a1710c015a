"""Argument checks shared by the public functions: each raises a ValueError that names the argument.

Two ways in, one set of rules:

- **helpers** called at the top of a function (`positive_int`, `real`, `flag`, `choice`, `tensor`,
  `generator`, `device`), each returning the argument converted (an int, a float, a tensor);
- **declarations**: ``@arguments(k=Int(1), eps=Real(0, 1, low_open=True))`` above a public function states each
  argument's type and range once; the same helpers run before the function, and the declarations stay on it as
  ``__arguments__`` for tests/test_public_inputs.py, which fuzzes every public name.

`tensor` refuses NaN and inf unless told otherwise, complex numbers, strings and bare bools. `fits_in_memory`
refuses a size whose allocation cannot fit (the caller estimates the bytes), naming the argument and the memory
it would need, before anything is allocated.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os

import numpy as np
import torch


def positive_int(name: str, value, minimum: int = 1) -> int:
    """Return `value` as an int, or raise a ValueError naming `name` unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def tensor(name: str, value, ndim: int | tuple[int, ...] | None = None, *, finite: bool = True) -> torch.Tensor:
    """Convert `value` to a floating-point tensor and check its number of dimensions.

    Integer and boolean arrays become the default float dtype; complex numbers, strings, a bare True or False and
    other objects are refused, and so are NaN and ±inf entries unless `finite` is False (for an argument whose
    docstring says what a non-finite entry means).
    """
    if isinstance(value, str | bytes | bool) or value is None:
        raise ValueError(f"{name} must be a tensor or array of numbers, got {type(value).__name__}")
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError, OverflowError) as error:
            raise ValueError(f"{name} must be a tensor or array of numbers, got {type(value).__name__}") from error
    if value.is_complex():
        raise ValueError(f"{name} must hold real numbers, got a {value.dtype} tensor; pass its real part")
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    if finite and value.numel() and not finite_tensor(value):
        raise ValueError(f"{name} must be finite (no NaN or inf entries), got shape {tuple(value.shape)} with some")
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


def finite_tensor(T: torch.Tensor) -> bool:
    """No NaN or inf in T. A NaN or inf makes the sum non-finite, so a finite sum settles it in one fast pass
    (about 10 times faster than ``isfinite(T).all()``); a sum that overflows gets the full check."""
    return bool(torch.isfinite(T.sum())) or bool(torch.isfinite(T).all())


def real(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> float:
    """Return `value` as a float, or raise a ValueError naming `name` unless it is a finite real number in the
    interval from `low` to `high` (closed ends unless `low_open` / `high_open`; None for no bound).

    A bool is refused (``True`` is not a number here), and so are NaN and ±inf.
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        raise ValueError(f"{name} must be {_interval(low, high, low_open, high_open)}, got {value!r}")
    return float(value)


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def flag(name: str, value) -> bool:
    """Return `value` as a bool, or raise a ValueError naming `name` unless it is True or False."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value, options) -> str:
    """Return `value` if it is one of `options`, else raise a ValueError naming `name` and listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


# --- memory --------------------------------------------------------------------------------------------------


def available_memory(device=None) -> int:
    """Bytes that can still be allocated: free GPU memory on a CUDA device, else the system's available memory
    (psutil's estimate when installed, else the free physical pages)."""
    try:
        on_gpu = device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available()
    except (RuntimeError, TypeError):  # not a device: the device check reports it
        on_gpu = False
    if on_gpu:
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


def fits_in_memory(name: str, n_bytes: float, device=None, *, hint: str | None = None) -> None:
    """Raise a ValueError naming `name` if an allocation of `n_bytes` (the caller's estimate of what the call
    needs at once) is larger than the memory available, instead of a MemoryError or a machine that swaps."""
    available = available_memory(device)
    if n_bytes > available:
        raise ValueError(
            f"{name} is too large: the call would need about {_bytes(n_bytes)} of memory, and "
            f"{_bytes(available)} is available; {hint or f'pass a smaller {name}'}"
        )


# --- declarations --------------------------------------------------------------------------------------------


class Int:
    """An integer argument >= `minimum` (and <= `maximum` when given; a bool is refused)."""

    def __init__(self, minimum: int = 1, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, name, value):
        value = positive_int(name, value, self.minimum)
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{name} must be an integer in [{self.minimum}, {self.maximum}], got {value!r}")
        return value

    def __repr__(self):
        return f"Int(minimum={self.minimum})"


class Real:
    """A finite real argument in an interval (see `real`)."""

    def __init__(self, low=None, high=None, *, low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __call__(self, name, value):
        return real(name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def __repr__(self):
        return f"Real({_interval(self.low, self.high, self.low_open, self.high_open)})"


class Flag:
    """True or False."""

    def __call__(self, name, value):
        return flag(name, value)

    def __repr__(self):
        return "Flag()"


class Choice:
    """One of a fixed set of strings."""

    def __init__(self, *options: str):
        self.options = options

    def __call__(self, name, value):
        return choice(name, value, self.options)

    def __repr__(self):
        return f"Choice{self.options}"


class Tensor:
    """A tensor or array of real numbers with `ndim` dimensions (see `tensor`), finite unless `finite=False`."""

    def __init__(self, ndim=None, *, finite: bool = True, min_ndim: int | None = None, nonempty: bool = False):
        self.ndim, self.finite, self.min_ndim, self.nonempty = ndim, finite, min_ndim, nonempty

    def __call__(self, name, value):
        value = tensor(name, value, self.ndim, finite=self.finite)
        if self.nonempty and value.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
        if self.min_ndim is not None and value.ndim < self.min_ndim:
            raise ValueError(f"{name} must have at least {self.min_ndim} dimensions, got shape {tuple(value.shape)}")
        return value

    def __repr__(self):
        return f"Tensor(ndim={self.ndim}, finite={self.finite})"


class Optional:
    """None, or what `spec` accepts."""

    def __init__(self, spec):
        self.spec = spec

    def __call__(self, name, value):
        return None if value is None else self.spec(name, value)

    def __repr__(self):
        return f"Optional({self.spec!r})"


def arguments(**specs):
    """Declare a public function's arguments once: ``@arguments(k=Int(1), eps=Real(0, 1, low_open=True))``.

    Each named argument is checked (and converted: an int, a float, a tensor) before the function runs, by
    the spec given for it; a bad one raises the spec's ValueError naming the argument. The declarations are
    kept on the function as ``__arguments__`` so that tests (tests/test_public_inputs.py) can read them.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        unknown = set(specs) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument(s) {sorted(unknown)} to declare")

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            for name, spec in specs.items():
                if name in bound.arguments:
                    bound.arguments[name] = spec(name, bound.arguments[name])
            return fn(*bound.args, **bound.kwargs)

        checked.__arguments__ = dict(specs)
        return checked

    return decorate


class Instance:
    """An object of one of the given classes (a model, word vectors, a dataset)."""

    def __init__(self, *classes: type, what: str | None = None):
        self.classes = classes
        self.what = what or " or ".join(c.__name__ for c in classes)

    def __call__(self, name, value):
        if not isinstance(value, self.classes):
            raise ValueError(f"{name} must be a {self.what}, got {type(value).__name__}")
        return value

    def __repr__(self):
        return f"Instance({self.what})"


class Function:
    """A callable (a hook or a data source)."""

    def __call__(self, name, value):
        if not callable(value):
            raise ValueError(f"{name} must be a function, got {type(value).__name__}")
        return value

    def __repr__(self):
        return "Function()"


class Text:
    """A string (a word, a label); with ``or_number=True`` a number is accepted too (a class label)."""

    def __init__(self, *, or_number: bool = False):
        self.or_number = or_number

    def __call__(self, name, value):
        if not isinstance(value, str) and not (
            self.or_number
            and isinstance(value, numbers.Real | np.number)
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a string{' or a number' if self.or_number else ''}, got {value!r}")
        return value

    def __repr__(self):
        return "Text()"


class Each:
    """A non-empty list or tuple whose every item `spec` accepts (a list of arrays, of labels)."""

    def __init__(self, spec, *, allow_empty: bool = False, length: int | None = None):
        self.spec, self.allow_empty, self.length = spec, allow_empty, length

    def __call__(self, name, value):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple | np.ndarray | torch.Tensor):
            raise ValueError(f"{name} must be a list, got {type(value).__name__}")
        if isinstance(value, np.ndarray | torch.Tensor) and value.ndim == 0:
            raise ValueError(f"{name} must be a list, got a single number")
        if len(value) == 0 and not self.allow_empty:
            raise ValueError(f"{name} must not be empty")
        if self.length is not None and len(value) != self.length:
            raise ValueError(f"{name} must have {self.length} items, got {len(value)}")
        return [self.spec(f"{name}[{i}]", item) for i, item in enumerate(value)]

    def __repr__(self):
        return f"Each({self.spec!r})"
