"""Argument checks for the public functions: each raises a ValueError that names the argument, says what was
passed and what to pass.

Every public function, and every class's constructor, declares its arguments once, in the manner of
scikit-learn's parameter constraints::

    @arguments(k=Int(2), n=Int(1), eps=Real(0, 1, low_open=True), **RANDOMNESS)

Each spec (`Int`, `Real`, `Flag`, `Choice`, `Text`, `Tensor`, `Each`, `Instance`, `Function`, `Generator`,
`Device`, and `Optional` / `Either` around them) checks and converts one argument before the body runs, and says
in words what it accepts; `arguments` writes those words into the docstring as an "Arguments checked" block
and keeps the specs on the function as ``__arguments__``, which tests/test_public_inputs.py reads to build the
hostile values every argument must survive. So the check, the docstring and the test read one table. Checks
between arguments (X's columns against D's rows) stay in the body, after the declared ones.

The helpers the specs call (`positive_int`, `real`, `flag`, `choice`, `tensor`) and `generator` (a seed or a
generator, resolved) serve the bodies too. `tensor` refuses NaN and inf unless told otherwise, complex numbers,
strings and bare bools. `fits_in_memory` refuses a size whose allocation cannot fit (the caller estimates the
bytes), naming the argument and the memory it would need, before anything is allocated.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os

import numpy as np
import torch

# The largest integer a torch size, count or seed holds (int64): a larger one overflows deep inside torch.
LARGEST_INT = 2**63 - 1


def positive_int(name: str, value, minimum: int = 1) -> int:
    """Return `value` as an int, or raise a ValueError naming `name` unless it is an integer >= `minimum` (and
    at most `LARGEST_INT`)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value > LARGEST_INT:
        raise ValueError(f"{name} must be at most 2**63 - 1 (the largest integer torch holds), got {value!r}")
    return int(value)


def tensor(name: str, value, ndim: int | tuple[int, ...] | None = None, *, finite: bool = True) -> torch.Tensor:
    """Convert `value` to a floating-point tensor and check its number of dimensions.

    Integer and boolean arrays become the default float dtype; complex numbers, strings, a bare True or False and
    other objects are refused, and so are NaN and ±inf entries unless `finite` is False (for an argument whose
    docstring says what a non-finite entry means).
    """
    if isinstance(value, str | bytes | bool | np.bool_) or value is None:
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
        new.manual_seed(positive_int("seed", seed, 0))
    return new


def device(value=None, *, present: bool = True) -> torch.device:
    """Resolve a device argument: None means CPU; "cuda" is checked to exist (unless `present` is False: for
    an argument whose device type is all that matters)."""
    if value is None:
        return torch.device("cpu")
    try:
        resolved = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f'device must be "cpu", "cuda" or a torch.device, got {value!r}') from error
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f'device must be "cpu", "cuda" or a torch.device of those, got {value!r}')
    if not present:
        return resolved
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError('device "cuda" was asked for, but torch sees no CUDA device here; pass device="cpu"')
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {value!r} was asked for, but torch sees {torch.cuda.device_count()} CUDA device(s) here; "
            'pass device="cuda" (the first) or an index below that'
        )
    return resolved


def finite_tensor(T: torch.Tensor) -> bool:
    """No NaN or inf in T. A NaN or inf makes the sum non-finite, so a finite sum settles it in one fast pass
    (about 10 times faster than ``isfinite(T).all()`` on a large T); a sum that overflows gets the full check. The
    sum is tested as a Python float: on a small batch ``torch.isfinite`` of the 0-d sum costs more than the sum."""
    return math.isfinite(T.sum().item()) or bool(torch.isfinite(T).all())


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
#
# Each spec checks (and converts) one argument when called as ``spec(name, value)``, and says in words what it
# accepts (`describe`, which the docstring block of `arguments` prints). tests/test_public_inputs.py reads the
# specs' attributes (minimum, interval, ndim, options, ...) to build the hostile values each argument must refuse.


class Int:
    """An integer argument >= `minimum` (None: any integer) and <= `maximum` when given; a bool is refused, and
    so is an integer beyond `LARGEST_INT` (it would overflow inside torch)."""

    def __init__(self, minimum: int | None = 1, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, name, value):
        if self.minimum is None:
            if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if abs(value) > LARGEST_INT:
                raise ValueError(f"{name} must be between -(2**63 - 1) and 2**63 - 1, got {value!r}")
            value = int(value)
        else:
            value = positive_int(name, value, self.minimum)
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return value

    def describe(self):
        if self.maximum is not None:
            return f"an integer in [{self.minimum}, {self.maximum}]"
        return "an integer" if self.minimum is None else f"an integer >= {self.minimum}"

    def __repr__(self):
        return f"Int(minimum={self.minimum}, maximum={self.maximum})"


class Real:
    """A finite real argument in an interval (see `real`); with ``scalar_tensor=True`` a one-element tensor or
    array is accepted too (a statistic just computed), as its number."""

    def __init__(self, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
                 scalar_tensor: bool = False):  # fmt: skip
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.scalar_tensor = scalar_tensor

    def __call__(self, name, value):
        if self.scalar_tensor and isinstance(value, torch.Tensor | np.ndarray):
            size = value.size if isinstance(value, np.ndarray) else value.numel()
            if size != 1:
                raise ValueError(f"{name} must be a single number, got a tensor of shape {tuple(value.shape)}")
            value = value.item()  # a bool or complex entry stays one, and is refused below
        return real(name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def describe(self):
        described = _interval(self.low, self.high, self.low_open, self.high_open)
        return described + (" (or a one-element tensor)" if self.scalar_tensor else "")

    def __repr__(self):
        return f"Real({self.describe()})"


class Flag:
    """True or False."""

    def __call__(self, name, value):
        return flag(name, value)

    def describe(self):
        return "True or False"

    def __repr__(self):
        return "Flag()"


class Choice:
    """One of a fixed set of strings."""

    def __init__(self, *options: str):
        self.options = options

    def __call__(self, name, value):
        return choice(name, value, self.options)

    def describe(self):
        return "one of " + ", ".join(repr(o) for o in self.options)

    def __repr__(self):
        return f"Choice{self.options}"


class Tensor:
    """A tensor or array of real numbers (see `tensor`): `ndim` dimensions (an int, a tuple of them, or None for
    any; `min_ndim` for at least that many), finite unless `finite=False`, with at least one entry when
    `nonempty`. With `convert=False` the value is checked but passed on as it came (for a function whose result
    keeps its input's type). With `integer=True` it must hold integers (class labels; not floats, not bools) and
    becomes int64; with `nonnegative=True` every entry must be >= 0. With `detach=True` the value is data that
    the function does not differentiate through (a solver's input): a tensor that requires grad is detached."""

    def __init__(self, ndim=None, *, finite: bool = True, min_ndim: int | None = None, nonempty: bool = False,
                 convert: bool = True, integer: bool = False, nonnegative: bool = False,
                 detach: bool = False):  # fmt: skip
        self.ndim, self.finite, self.min_ndim, self.nonempty, self.convert = ndim, finite, min_ndim, nonempty, convert
        self.integer, self.nonnegative, self.detach = integer, nonnegative, detach

    def __call__(self, name, value):
        converted = (
            _integers(name, value, self.ndim) if self.integer else tensor(name, value, self.ndim, finite=self.finite)
        )
        if self.nonempty and converted.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(converted.shape)}")
        if self.nonnegative and converted.numel() and bool((converted < 0).any()):
            raise ValueError(f"{name} must be >= 0 everywhere, got a negative entry ({converted.min().item():g})")
        if self.min_ndim is not None and converted.ndim < self.min_ndim:
            raise ValueError(
                f"{name} must have at least {self.min_ndim} dimensions, got shape {tuple(converted.shape)}"
            )
        if not self.convert:
            return value.detach() if self.detach and isinstance(value, torch.Tensor) else value
        return converted.detach() if self.detach else converted

    def describe(self):
        if self.ndim is None:
            dims = f"with at least {self.min_ndim} dimensions" if self.min_ndim else "of any shape"
        else:
            allowed = (self.ndim,) if isinstance(self.ndim, int) else self.ndim
            dims = f"with {' or '.join(str(d) for d in allowed)} dimensions"
        if self.integer:
            return f"an integer tensor or array {dims}" + (" (not empty)" if self.nonempty else "")
        extra = ("finite" if self.finite else "NaN and inf allowed") + (", not empty" if self.nonempty else "")
        extra += ", >= 0" if self.nonnegative else ""
        extra += ", taken as data: no gradient flows back to it" if self.detach else ""
        return f"a real tensor or array {dims} ({extra})"

    def __repr__(self):
        return f"Tensor(ndim={self.ndim}, min_ndim={self.min_ndim}, finite={self.finite}, nonempty={self.nonempty})"


def _integers(name: str, value, ndim) -> torch.Tensor:
    """`value` as an int64 tensor with `ndim` dimensions, or a ValueError naming `name` (floats, bools, complex
    numbers and strings are refused)."""
    if isinstance(value, str | bytes | bool) or value is None:
        raise ValueError(f"{name} must be a tensor or array of integers, got {type(value).__name__}")
    try:
        value = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{name} must be a tensor or array of integers, got {type(value).__name__}") from error
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers (class labels), got a {value.dtype} tensor")
    if ndim is not None and value.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    return value.long()


class Optional:
    """None, or what `spec` accepts; `none` says what None means, for the docstring."""

    def __init__(self, spec, none: str = "None"):
        self.spec, self.none = spec, none

    def __call__(self, name, value):
        return None if value is None else self.spec(name, value)

    def describe(self):
        return f"{self.none}, or {self.spec.describe()}"

    def __repr__(self):
        return f"Optional({self.spec!r})"


class Either:
    """What one of `specs` accepts (the first that does): a word or a vector, say."""

    def __init__(self, *specs):
        self.specs = specs

    def __call__(self, name, value):
        for spec in self.specs:
            try:
                return spec(name, value)
            except ValueError:
                continue
        raise ValueError(f"{name} must be {self.describe()}, got {_short(value)}")

    def describe(self):
        return " or ".join(spec.describe() for spec in self.specs)

    def __repr__(self):
        return f"Either{self.specs}"


def _short(value) -> str:
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"a {value.dtype} {type(value).__name__} of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


class Generator:
    """A torch.Generator (pair it with `Optional` where None means "draw from `seed`")."""

    def __call__(self, name, value):
        if not isinstance(value, torch.Generator):
            raise ValueError(f"{name} must be a torch.Generator, got {type(value).__name__}")
        return value

    def describe(self):
        return "a torch.Generator"

    def __repr__(self):
        return "Generator()"


class Device:
    """A device: None (the CPU), "cpu", "cuda" (checked to exist unless `present=False`) or a torch.device;
    becomes a torch.device. Wrap it in `Optional` where None means something else (the device of the data) and
    must stay None."""

    def __init__(self, *, present: bool = True):
        self.present = present

    def __call__(self, name, value):
        if name != "device":
            try:
                return device(value, present=self.present)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return device(value, present=self.present)

    def describe(self):
        return '"cpu", "cuda", a torch.device, or None (the CPU)' + ("" if self.present else "; need not be present")

    def __repr__(self):
        return "Device()"


def arguments(**specs):
    """Declare a public function's arguments once: ``@arguments(k=Int(1), eps=Real(0, 1, low_open=True))``.

    Each named argument, given or left at its default, is checked (and converted: an int, a float, a tensor)
    before the function runs, by
    the spec given for it; a bad one raises the spec's ValueError naming the argument. The declarations are
    kept on the function as ``__arguments__`` so that tests (tests/test_public_inputs.py) can read them, and
    are written into its docstring as an "Arguments checked" block (before its Examples, if any), so that the
    docstring and the check read the same table. Checks between arguments (matching shapes) stay in the body.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        unknown = set(specs) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument(s) {sorted(unknown)} to declare")

        # with no positional-only or variadic argument, the checked values pass by name (a microsecond sooner than
        # rebuilding args and kwargs: methods such as `ToyModel.forward` are called in lectures' loops)
        by_name = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in signature.parameters.values())

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()  # defaults are converted too (a default 1.0 becomes the tensor the body expects)
            arguments = bound.arguments
            for name, spec in specs.items():
                arguments[name] = spec(name, arguments[name])
            return fn(**arguments) if by_name else fn(*bound.args, **bound.kwargs)

        checked.__arguments__ = dict(specs)
        checked.__doc__ = _with_declarations(fn.__doc__, specs)
        return checked

    return decorate


def declare_init(**specs):
    """`arguments` for a class: declare the arguments of its ``__init__`` (the class keeps its own docstring,
    with the block added, and ``__arguments__``)."""

    def decorate(cls):
        cls.__init__ = arguments(**specs)(cls.__init__)
        cls.__arguments__ = cls.__init__.__arguments__
        cls.__doc__ = _with_declarations(cls.__doc__, specs)
        return cls

    return decorate


def _with_declarations(doc: str | None, specs: dict) -> str:
    """`doc` with an "Arguments checked" block listing each declared argument and what it accepts."""
    lines = (doc or "").expandtabs().splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    pad = " " * (min(indents) if indents else 4)
    block = [f"{pad}Arguments checked", f"{pad}-----------------"]
    block += [f"{pad}{name} : {spec.describe()}" for name, spec in specs.items()]
    examples = next(
        (i for i in range(len(lines) - 1) if lines[i].strip() == "Examples" and set(lines[i + 1].strip()) == {"-"}),
        None,
    )
    if examples is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", *block]) + "\n"
    return "\n".join([*lines[:examples], *block, "", *lines[examples:]])


class Instance:
    """An object of one of the given classes (a model, word vectors, a dataset)."""

    def __init__(self, *classes: type, what: str | None = None):
        self.classes = classes
        self.what = what or " or ".join(c.__name__ for c in classes)

    def __call__(self, name, value):
        if not isinstance(value, self.classes):
            raise ValueError(f"{name} must be a {self.what}, got {type(value).__name__}")
        return value

    def describe(self):
        return f"a {self.what}"

    def __repr__(self):
        return f"Instance({self.what})"


class Function:
    """A callable (a hook or a data source)."""

    def __call__(self, name, value):
        if not callable(value):
            raise ValueError(f"{name} must be a function, got {type(value).__name__}")
        return value

    def describe(self):
        return "a function"

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

    def describe(self):
        return "a string or a number" if self.or_number else "a string"

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
        if type(self.spec) is Text and not self.spec.or_number and all(isinstance(item, str) for item in value):
            return list(value)  # a vocabulary of 40,000 words: one pass, no call per word
        return [self.spec(f"{name}[{i}]", item) for i, item in enumerate(value)]

    def describe(self):
        size = (
            f"{self.length} items" if self.length is not None else "items" if self.allow_empty else "at least one item"
        )
        return f"a list of {size}, each {self.spec.describe()}"

    def __repr__(self):
        return f"Each({self.spec!r})"


# The pair every random function takes: ``@arguments(n=Int(), **RANDOMNESS)``; `generator` above resolves them.
RANDOMNESS = {"seed": Optional(Int(0)), "generator": Optional(Generator())}
