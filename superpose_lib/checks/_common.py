"""What every chapter's checks share: calling the learner's function, the references, the pass record."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

_REFERENCES: dict[str, object] = {}
_PASSED: dict[str, object] = {}


_CHECKS_FOLDER = Path(__file__).resolve().parent


def _short_traceback(self) -> list[str]:
    """What IPython shows for a check's verdict: its message alone, not the check's own code."""
    return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


# A check's verdict keeps the built-in names (learners, the guide and the notebook tools know them), and
# IPython shows it without the traceback through the check's code, which says nothing about the mistake.
_Failed = type("AssertionError", (AssertionError,), {"_render_traceback_": _short_traceback, "__module__": __name__})
_NotYet = type(
    "NotImplementedError", (NotImplementedError,), {"_render_traceback_": _short_traceback, "__module__": __name__}
)


def concise(check):
    """Wrap a `check_*`: its own verdicts (AssertionError, NotImplementedError raised by the check's code) are
    re-raised with a message-only display; an error raised inside the learner's function is left as it is."""

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except (AssertionError, NotImplementedError) as error:
            if type(error) in (_Failed, _NotYet) or not _raised_in_checks(error):
                raise
            short = _Failed if isinstance(error, AssertionError) else _NotYet
            raise short(*error.args) from None

    return wrapper


def _raised_in_checks(error: BaseException) -> bool:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and Path(frame.tb_frame.f_code.co_filename).resolve().parent == _CHECKS_FOLDER


def _call(fn, name: str, *args, **kwargs):
    """Call the learner's function; an untouched blank becomes a clear "not implemented yet"."""
    if not callable(fn):
        raise AssertionError(f"pass your function itself to the check, e.g. check_{name}({name}); got {fn!r}")
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotImplementedError(
            f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line "
            "with your code, then run this cell again."
        ) from None
    if result is None:
        raise AssertionError(f"{name} returned None: did you forget the `return` statement?")
    return result


def _tensor(name: str, value, shape=None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(value).__name__}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{name} returned shape {tuple(value.shape)}, expected {tuple(shape)}")
    return value


def _require_reproducible(fn, name: str, args: tuple, random_call: str) -> None:
    """Two generators with the same seed must give the same result."""
    if not torch.equal(_call(fn, name, *args, generator=_seeded(7)), _call(fn, name, *args, generator=_seeded(7))):
        raise AssertionError(
            f"{name} ignores its generator (two generators with the same seed gave different results): "
            f"pass generator=generator to every {random_call} call."
        )


def _passed(name: str, fn, message: str) -> None:
    _PASSED[name] = fn
    print(f"✓ {name}: {message}")


def yours_or_reference(fn):
    """Your function if its check has passed in this session; else the library's reference, with a note."""
    name = getattr(fn, "__name__", None)
    if name not in _REFERENCES:
        raise ValueError(f"no exercise is called {name!r}; pass one of: {', '.join(sorted(_REFERENCES))}")
    if _PASSED.get(name) is fn:
        return fn
    print(f"(using the library's reference {name}: yours has not passed check_{name} yet)")
    return _REFERENCES[name]


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _number(name: str, value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise AssertionError(f"{name} should return a single number, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} should return a number, got {type(value).__name__}") from None
