"""The check engine: an exercise is declared once (`Exercise`) and `make_check` turns it into its `check_*`.

What every check does, whatever the exercise:

1. draws the declared inputs afresh on every run (``seeded`` inside ``cases`` is keyed by a new seed per run, so
   a table of remembered answers cannot pass), hands the learner copies, and computes the reference's answer from
   pristine copies only after the learner has answered (no expected answer is kept anywhere the learner's code
   could read it first; writing to the inputs in place can neither fool the check nor break it);
2. calls the learner with the declared signature (a mismatch, or a default changed, is a message naming the
   signature; an optional argument at its declared default is left out, so a default hidden in ``**kwargs``
   is exercised too), in a worker
   thread with a time limit (a message, not a silent wait; a progress line when a call is slow) and with the
   caller's thread count; a call of a library function the exercise declares ``not_yours`` (the work it asks the
   learner to write) is a verdict, whatever the function returns;
3. reads the result as the declared kind (tensor, number, count, words, or a tuple of these): numpy arrays,
   wrong types and wrong shapes get messages, any float dtype is compared in float64;
4. rejects NaN and inf, then compares with the reference; on a mismatch, names the declared mistake the
   answer equals, else shows the answer and the expected value, rounded;
5. for an exercise a later cell trains through (``differentiable``), compares the answer's gradients with the
   reference's;
6. for an exercise that draws random numbers (it has a ``generator`` argument), compares declared statistics
   instead of values, and checks that the function draws from its generator and nothing else, without
   reseeding it (generators with different seeds give different results).

A verdict is an AssertionError (or NotImplementedError for the untouched blank) whose notebook display is its
message alone; an error raised inside the learner's own function shows the learner's frames and a line with
what was passed, never the check's source.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import math
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .. import _validate
from ..environment import cpu_threads

_REFERENCES: dict[str, Callable] = {}
_PASSED: dict[str, Callable] = {}
EXERCISES: dict[str, Exercise] = {}
_RUN = {"seed": 0}  # the current run's seed, read by `seeded` while a check draws its cases

TIME_LIMIT_S = 30.0  # per call of the learner's function
CHECK_LIMIT_S = 120.0  # for all the calls of one check together
PROGRESS_AFTER_S = 3.0  # a slower check says what it is waiting for

_CHECKS_FOLDER = Path(__file__).resolve().parent
_VALIDATE_FILE = _validate.__file__


def _short_traceback(self) -> list[str]:
    """What IPython shows for a check's verdict: its message alone, not the check's own code."""
    return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


# Verdicts keep the built-in names (learners, the guide and the notebook tools know them).
Failed = type("AssertionError", (AssertionError,), {"_render_traceback_": _short_traceback, "__module__": __name__})
NotYet = type(
    "NotImplementedError", (NotImplementedError,), {"_render_traceback_": _short_traceback, "__module__": __name__}
)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer (same signature as the exercise) and the hint shown when a learner's equals it."""

    hint: str
    answer: Callable


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise, declared once; its check and the check's tests both read it.

    signature : how the workbook defines the function, e.g. ``"toy_forward(W, b, x)"``. Parameters without a
        default are passed by position, the others by keyword.
    reference : the library's answer (or a thin adapter to the library's argument order).
    cases : a function returning a list of input dicts, one per call; inputs should be generic enough that each
        mistake gives a different answer, drawn with ``seeded(i)`` so that each run gets new ones, and every
        argument the answer depends on takes at least two values (an optional one: its default and another).
        Random exercises leave ``generator`` out: the engine seeds it.
    returns : "tensor", "number", "count" (a whole number), "words", or a tuple of these for a tuple result.
    mistakes : named wrong answers, ``{hint: answer}`` (or a list of `Mistake`), tried in order.
    passed : the tick's message.
    formula : what the answer should be, shown when the answer matches no named mistake.
    atol, rtol : the tolerance of the comparison (of the statistics, for a random exercise; there `rtol` may be a
        tuple, one tolerance per statistic).
    statistics : for a random exercise, ``statistics(outputs) -> tensor`` of a few numbers compared instead of
        the values, where ``outputs`` holds the results of ``calls`` calls sharing one generator; or
        ``statistics(outputs, inputs)``, which also gets the case's inputs (for a result judged against them,
        such as a trained model scored on the data it was asked to learn).
    statistic_names : what each statistic is, for a message that names the ones that are off.
    differentiable : the inputs a later cell trains through the answer (it calls ``.backward()`` on it): once the
        values agree, the answer must carry a graph back to them, with the reference's gradients (an answer
        computed through ``.item()``, numpy or ``torch.tensor(...)`` has the right value and trains nothing).
    not_yours : library functions that do the exercise's whole work (a training loop the learner is asked to
        write): a learner's function that calls one of them gets a verdict naming it, whatever it returns. Calls
        made from the checks' own code (the reference, the named mistakes) are allowed.
    """

    signature: str
    reference: Callable
    cases: Callable[[], list[dict]]
    passed: str
    returns: str | tuple[str, ...] = "tensor"
    mistakes: Sequence[Mistake] | dict[str, Callable] = ()
    formula: str = ""
    atol: float = 1e-5
    rtol: float | tuple[float, ...] = 1e-5
    statistics: Callable | None = None
    statistic_names: tuple[str, ...] = ()
    calls: int = 1
    differentiable: tuple[str, ...] = ()
    not_yours: tuple[Callable, ...] = ()

    def __post_init__(self):
        if isinstance(self.mistakes, dict):  # {hint: answer}, the compact way to write them
            object.__setattr__(self, "mistakes", tuple(Mistake(h, a) for h, a in self.mistakes.items()))

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0]

    @functools.cached_property
    def parameters(self) -> list[inspect.Parameter]:
        scope: dict = {}
        exec(f"def {self.signature}: pass", scope)  # noqa: S102 - our own declared signature
        return list(inspect.signature(scope[self.name]).parameters.values())

    @property
    def random(self) -> bool:
        return self.statistics is not None

    def draw_cases(self, seed: int) -> list[dict]:
        """The cases of the run with this seed (`seeded(i)` inside `cases` is keyed by it)."""
        previous, _RUN["seed"] = _RUN["seed"], seed
        try:
            return self.cases()
        finally:
            _RUN["seed"] = previous


def declare(*exercises: Exercise) -> None:
    """Register a chapter's exercises: `checks/__init__.py` turns each into ``check_<name>``."""
    for exercise in exercises:
        EXERCISES[exercise.name] = exercise
        _REFERENCES[exercise.name] = exercise.reference


# --- formatting ------------------------------------------------------------------------------------------------


def fmt(value, digits: int = 4) -> str:
    """A number, tensor or sequence rounded to `digits` significant digits (no -0, at most 8 entries)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1).tolist()
        body = ", ".join(fmt(v, digits) for v in flat[:8]) + (", …" if len(flat) > 8 else "")
        return body if value.ndim == 0 else f"[{body}]"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | int | np.generic):
        value = float(value)
        if value == 0:
            return "0"
        return f"{value:.{digits}g}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(fmt(v, digits) for v in value) + ")"
    return repr(value)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        shape = "×".join(map(str, value.shape)) or "0-d"  # "4" alone would read as two shapes in "f(shape 4, 2)"
        return f"a {str(value.dtype).removeprefix('torch.')} tensor ({shape})"
    if isinstance(value, torch.Generator):
        return "a torch.Generator"
    if isinstance(value, int | float | str | bool) or value is None:
        return repr(value)
    if isinstance(value, list | tuple) and len(value) <= 6:
        return repr(value)
    return f"a {type(value).__name__}"


def _call_text(name: str, args: tuple, kwargs: dict) -> str:
    parts = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# --- calling the learner ---------------------------------------------------------------------------------------


def _copy(inputs: dict) -> dict:
    """Deep copies of the inputs, except a generator, which the function must draw from itself."""
    memo = {id(v): v for v in inputs.values() if isinstance(v, torch.Generator)}
    return copy.deepcopy(inputs, memo)


def _split(exercise: Exercise, inputs: dict) -> tuple[tuple, dict]:
    """Positional and keyword arguments; an optional argument at its declared default is left out, so that the
    function's own default (however it is written, ``**kwargs`` included) is what the case tests."""
    args, kwargs = [], {}
    for p in exercise.parameters:
        if p.name not in inputs:
            continue
        if p.default is inspect.Parameter.empty:
            args.append(inputs[p.name])
        elif p.name == "generator" or not _same_default(inputs[p.name], p.default):
            kwargs[p.name] = inputs[p.name]
    return tuple(args), kwargs


def _check_signature(fn, exercise: Exercise, args: tuple, kwargs: dict) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        raise Failed(
            f"{exercise.name} should be defined as `def {exercise.signature}:` (the check calls "
            f"{_call_text(exercise.name, args, kwargs)}); yours is {exercise.name}{signature}: {error}."
        ) from None
    for declared in exercise.parameters:  # later cells call it without these: a changed default changes them
        theirs = signature.parameters.get(declared.name)
        if declared.default is inspect.Parameter.empty or declared.name == "generator" or theirs is None:
            continue
        if theirs.default is inspect.Parameter.empty or _same_default(theirs.default, declared.default):
            continue
        raise Failed(
            f"{exercise.name} should be defined as `def {exercise.signature}:`: yours gives {declared.name} the "
            f"default {theirs.default!r}, where the task's is {declared.default!r} (later cells call "
            f"{exercise.name} without {declared.name}, so they would get other answers)."
        )


def _same_default(theirs, declared) -> bool:
    try:
        return type(theirs) is not bool and bool(theirs == declared)
    except Exception:  # noqa: BLE001 - a default that cannot be compared is not the declared one
        return False


def _learner_frames(tb):
    """The part of a traceback inside the learner's code: drop the engine's and the thread's frames."""
    while tb is not None and (
        Path(tb.tb_frame.f_code.co_filename).resolve().parent == _CHECKS_FOLDER
        or tb.tb_frame.f_code.co_filename == threading.__file__
    ):
        tb = tb.tb_next
    return tb


def _learners_error(error: BaseException, call: str) -> BaseException:
    """Show the learner's own frames and what was passed; nothing of the check's source."""
    note = f"(raised inside your function, which check_{call.split('(', 1)[0]} called as {call})"
    if hasattr(error, "add_note"):
        error.add_note(note)
    frames = _learner_frames(error.__traceback__)
    lines = traceback.format_exception(type(error), error, frames)
    if not hasattr(error, "add_note"):
        lines.append(note + "\n")
    try:
        error._render_traceback_ = lambda: "".join(lines).rstrip("\n").split("\n")
    except AttributeError:  # an exception type without a __dict__: keep its full traceback
        pass
    return error


def _run(fn, exercise: Exercise, inputs: dict, progress: str = ""):
    """Call the learner's function on copies of `inputs`, with a time limit; returns (result, the copies)."""
    name = exercise.name
    if not callable(fn):
        raise Failed(f"pass your function itself to the check, e.g. check_{name}({name}); got {_describe(fn)}")
    copies = _copy(inputs)
    args, kwargs = _split(exercise, copies)
    _check_signature(fn, exercise, args, kwargs)
    call = _call_text(name, args, kwargs)
    box: dict = {}
    threads = torch.get_num_threads()

    # the function's own code, not a declaration's wrapper (one code object shared by every declared function)
    forbidden = {inspect.unwrap(f).__code__: f"{f.__module__}.{f.__qualname__}" for f in exercise.not_yours}

    def watch(frame, event, arg):  # a 'call' event for every Python call in this thread; no line tracing
        if frame.f_code not in forbidden:
            return
        caller = frame.f_back
        while caller is not None and caller.f_code.co_filename == _VALIDATE_FILE:  # past the declaration's check
            caller = caller.f_back
        if not (caller and caller.f_code.co_filename.startswith(str(_CHECKS_FOLDER))):
            box.setdefault("forbidden", forbidden[frame.f_code])

    def work():
        # a new thread starts with OpenMP's default team: a learner's training loop of small products then runs
        # ten times slower on a busy machine than on the caller's (one) thread
        torch.set_num_threads(threads)
        if forbidden:
            sys.settrace(watch)
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = error
        finally:
            sys.settrace(None)

    worker = threading.Thread(target=work, daemon=True, name=f"check_{name}")
    worker.start()
    worker.join(min(PROGRESS_AFTER_S, TIME_LIMIT_S))
    if worker.is_alive():
        print(f"… check_{name} is waiting for {call}{progress} (limit {fmt(TIME_LIMIT_S, 3)} s)", flush=True)
        worker.join(max(TIME_LIMIT_S - PROGRESS_AFTER_S, 0.0))
    if worker.is_alive():
        raise Failed(
            f"{call} took more than {fmt(TIME_LIMIT_S, 3)} s, so the check stopped waiting: look for a loop over "
            "every entry (use tensor operations) or a call that waits (sleep, input)."
        )
    if "forbidden" in box:
        raise Failed(
            f"{name} calls the library's {box['forbidden']}, which does this exercise's work: write that part "
            "yourself (the library's version is what the check compares yours with)."
        )
    if "error" in box:
        error = box["error"]
        if isinstance(error, NotImplementedError):
            raise NotYet(
                f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line "
                "with your code, then run this cell again."
            ) from None
        raise _learners_error(error, call)
    if box.get("result") is None:
        raise Failed(f"{name} returned None: did you forget the `return` statement?")
    return box["result"], copies


# --- reading a result ------------------------------------------------------------------------------------------


def _read(kind, value, name: str):
    """The result as float64 tensors (or word lists), one per part; a Failed for a type the task excludes."""
    if isinstance(kind, tuple):
        if not isinstance(value, tuple | list) or len(value) != len(kind):
            raise Failed(
                f"{name} should return a tuple of {len(kind)} values ({', '.join(kind)}), got {_describe(value)}"
            )
        return [_read(k, v, f"{name}'s result {i}")[0] for i, (k, v) in enumerate(zip(kind, value, strict=True))]
    if isinstance(value, np.ndarray):
        raise Failed(
            f"{name} returned a numpy array: return a torch.Tensor (torch.from_numpy(...), or compute with torch)."
        )
    if kind == "words":
        if not isinstance(value, list | tuple):
            raise Failed(f"{name} should return a list of words, got {_describe(value)}")
        words = [item[0] if isinstance(item, tuple | list) and item else item for item in value]
        if not all(isinstance(word, str) for word in words):
            raise Failed(f"{name} should return a list of words (or of (word, cosine) pairs), got {fmt(value)}")
        return [words]
    if kind == "tensor":
        if not isinstance(value, torch.Tensor):
            raise Failed(f"{name} should return a torch.Tensor, got {_describe(value)}")
        if value.is_complex():
            raise Failed(f"{name} returned complex numbers: the answer is real.")
        return [value.detach().cpu().to(torch.float64)]
    # a number or a count: a Python number, a numpy scalar or a 0-d tensor
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            raise Failed(
                f"{name} should return a single number, got a tensor of shape {tuple(value.shape)}"
                + (": take .item() of it." if value.numel() == 1 else ".")
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | np.generic | np.ndarray):
        raise Failed(f"{name} should return a number, got {_describe(value)}")
    number = float(value)
    if kind == "count" and math.isfinite(number) and not number.is_integer():
        raise Failed(f"{name} should return a whole number (a count), got {fmt(number)}")
    return [torch.tensor(number, dtype=torch.float64)]


def _within(x: torch.Tensor, y: torch.Tensor, exercise: Exercise, equal_nan: bool = False) -> torch.Tensor:
    """Entry by entry, |x − y| ≤ atol + rtol |y| (`rtol` may hold one tolerance per statistic)."""
    ok = (x == y) | ((x - y).abs() <= exercise.atol + torch.as_tensor(exercise.rtol, dtype=y.dtype) * y.abs())
    return ok | (torch.isnan(x) & torch.isnan(y)) if equal_nan else ok


def _close(a: list, b: list, exercise: Exercise, equal_nan: bool = False) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, list) or isinstance(y, list):
            if x != y:
                return False
        elif x.shape != y.shape or not bool(_within(x, y, exercise, equal_nan).all()):
            return False
    return True


def _nonfinite(parts: list) -> torch.Tensor | None:
    for part in parts:
        if isinstance(part, torch.Tensor) and not torch.isfinite(part).all():
            return part
    return None


def _answer(fn, exercise: Exercise, inputs: dict, seed: int | None):
    """A trusted function's answer (the reference or a mistake) on fresh copies, read as the declared kind."""
    copies = _copy(inputs)
    if seed is not None:
        copies["generator"] = torch.Generator().manual_seed(seed)
    args, kwargs = _split(exercise, copies)
    outputs = [fn(*args, **kwargs) for _ in range(exercise.calls)]
    parts = [_read(exercise.returns, out, exercise.name) for out in outputs]
    return _summary(exercise, parts, inputs)


def _summary(exercise: Exercise, parts: list, inputs: dict) -> list:
    if not exercise.random:
        return parts[0]
    stacked = [torch.stack([p[i] for p in parts]) for i in range(len(parts[0]))]
    outputs = stacked[0] if len(stacked) == 1 else stacked
    if len(inspect.signature(exercise.statistics).parameters) > 1:  # statistics(outputs, inputs)
        return [torch.as_tensor(exercise.statistics(outputs, _copy(inputs)), dtype=torch.float64)]
    return [torch.as_tensor(exercise.statistics(outputs), dtype=torch.float64)]


# --- the check -------------------------------------------------------------------------------------------------


def _changed(before: dict, after: dict) -> list[str]:
    names = []
    for key, value in before.items():
        other = after[key]
        if isinstance(value, torch.Tensor) and not torch.equal(value, other):
            names.append(key)
        elif isinstance(value, list) and value != other:
            names.append(key)
    return names


def _generator_discipline(fn, exercise: Exercise, inputs: dict, seed: int) -> None:
    """A random function draws from the generator it is given, and only from it."""
    name = exercise.name
    generator = torch.Generator().manual_seed(seed)
    state, global_state = generator.get_state(), torch.get_rng_state()
    first, _ = _run(fn, exercise, {**inputs, "generator": generator})
    if torch.equal(generator.get_state(), state):
        raise Failed(
            f"{name} ignores its generator (it never drew from it): pass generator=generator to every random call "
            "(torch.rand, torch.randn, torch.randperm ...), and do not call torch.manual_seed inside."
        )
    if not torch.equal(torch.get_rng_state(), global_state):
        torch.set_rng_state(global_state)
        raise Failed(
            f"{name} changed torch's global random state (torch.manual_seed, or a draw without "
            "generator=generator): draw every random number from the generator you are given."
        )
    again, _ = _run(fn, exercise, {**inputs, "generator": torch.Generator().manual_seed(seed)})
    a, b = _read(exercise.returns, first, name), _read(exercise.returns, again, name)
    if not all(torch.equal(x, y) for x, y in zip(a, b, strict=True)):
        raise Failed(
            f"{name} gave two different results for two generators with the same seed: draw every random number "
            "from the generator (numpy's and Python's random modules ignore it)."
        )


def _seed_discipline(fn, exercise: Exercise, inputs: dict, seed: int) -> None:
    """For an answer whose statistics are right: generators with different seeds give different results."""
    name = exercise.name
    generator, other = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    first, _ = _run(fn, exercise, {**inputs, "generator": generator})
    third, _ = _run(fn, exercise, {**inputs, "generator": other})
    if torch.equal(other.get_state(), generator.get_state()):
        raise Failed(
            f"{name} reseeds the generator it is given (generator.manual_seed(...) inside?): generators with "
            "different seeds end in the same state. Draw from the generator as it is; the caller seeds it."
        )
    a, c = _read(exercise.returns, first, name), _read(exercise.returns, third, name)
    if all(torch.equal(x, y) for x, y in zip(a, c, strict=True)) and _seed_matters(exercise, inputs, seed):
        raise Failed(
            f"{name} gave the same result for generators with different seeds: draw every random number from the "
            "generator you are given (not from a generator of your own, nor a fixed seed)."
        )


def _seed_matters(exercise: Exercise, inputs: dict, seed: int) -> bool:
    """Whether the reference's answers for two seeds differ (for a rate they may not)."""
    answers = []
    for s in (seed, seed + 1):
        copies = _copy(inputs)
        copies["generator"] = torch.Generator().manual_seed(s)
        args, kwargs = _split(exercise, copies)
        answers.append(_read(exercise.returns, exercise.reference(*args, **kwargs), exercise.name))
    return not all(torch.equal(x, y) for x, y in zip(*answers, strict=True))


class _Session:
    """One run of a check: its fresh cases and seeds, the learner's answers so far, and the trusted answers
    (reference and mistakes), each computed only once the learner has answered that case."""

    def __init__(self, exercise: Exercise, fn, seed: int):
        self.exercise, self.fn, self.name = exercise, fn, exercise.name
        self.cases = exercise.draw_cases(seed)
        draws = torch.randint(1, 2**62, (len(self.cases) + 1,), generator=torch.Generator().manual_seed(seed))
        self.seeds = draws.tolist() if exercise.random else [None] * (len(self.cases) + 1)
        self.gots: list = []
        self._trusted: dict = {}
        self.notes: set = set()
        start = time.monotonic()
        self.clock = {"start": start, "shown": start}

    def trusted(self, fn, index: int) -> list:
        """`fn`'s answer on case `index` (the reference's or a mistake's), after the learner's."""
        if index >= len(self.gots):
            raise RuntimeError("a trusted answer is computed only after the learner's")
        key = (id(fn), index)
        if key not in self._trusted:
            self._trusted[key] = _answer(fn, self.exercise, self.cases[index], self.seeds[index])
        return self._trusted[key]

    def learners_answer(self, index: int) -> list:
        exercise, case, parts = self.exercise, self.cases[index], []
        generator = torch.Generator().manual_seed(self.seeds[index]) if exercise.random else None
        for call in range(exercise.calls):
            inputs = case if generator is None else {**case, "generator": generator}
            progress = f", call {call + 1} of {exercise.calls}" if exercise.calls > 1 else ""
            _pace(self.clock, exercise, f"case {index + 1} of {len(self.cases)}{progress}")
            result, copies = _run(self.fn, exercise, inputs, progress)
            parts.append(_read(exercise.returns, result, self.name))
            self.notes.update(_changed(case, copies))
        if exercise.random:
            _check_random_output(exercise, case, parts)
        return _summary(exercise, parts, case)

    def judge(self) -> None:
        """Raise the verdict for the last answer, which differs from the reference's."""
        exercise, name, index = self.exercise, self.name, len(self.gots) - 1
        got, want = self.gots[index], self.trusted(exercise.reference, index)
        candidates = [m for m in exercise.mistakes if self._agrees(m, index)]  # the mistakes this answer equals
        if candidates:  # a hint is named only for a mistake the answer equals on every case, not on one alone
            for later in range(index + 1, len(self.cases)):
                try:
                    self.gots.append(self.learners_answer(later))
                except Exception:  # noqa: BLE001 - the verdict is about the cases already answered
                    break
            candidates = [m for m in candidates if all(self._agrees(m, i, True) for i in range(len(self.gots)))]
        if candidates:
            raise Failed(f"{name}: {candidates[0].hint}")
        bad = _nonfinite(got)
        inputs = _call_text(name, *_split(exercise, self.cases[index]))
        if bad is not None:
            raise Failed(
                f"{name} returned {'NaN' if torch.isnan(bad).any() else 'an infinite value'} for {inputs}, where "
                f"the answer is finite{': ' + exercise.formula.rstrip('.') if exercise.formula else ''}. Look for a "
                "0 / 0 or a log of 0."
            )
        for g, w in zip(got, want, strict=True):
            if isinstance(g, torch.Tensor) and g.shape != w.shape and not exercise.random:
                raise Failed(f"{name} returned shape {tuple(g.shape)} for {inputs}, expected {tuple(w.shape)}.")
        if exercise.statistic_names:  # name the statistics that are off, each with its tolerance
            off = ~_within(got[0], want[0], exercise)
            rtol = torch.as_tensor(exercise.rtol, dtype=torch.float64).expand_as(want[0])
            listed = [
                f"{label} is {fmt(g)}, expected {fmt(w)} ± {fmt(exercise.atol + float(r) * abs(float(w)), 2)}"
                for label, g, w, r, o in zip(exercise.statistic_names, got[0], want[0], rtol, off, strict=True)
                if o
            ]
            raise Failed(f"{name}({inputs.split('(', 1)[1]}: {'; '.join(listed)}. What is expected: {exercise.formula}")
        what = "statistics" if exercise.random else "answer"
        shown = [fmt(g) if not isinstance(g, list) else g for g in got]
        expected = [fmt(w) if not isinstance(w, list) else w for w in want]
        raise Failed(
            f"{name}'s {what} for {inputs} is {', '.join(map(str, shown))}, expected {', '.join(map(str, expected))}"
            + (f": {exercise.formula}" if exercise.formula else ".")
        )

    def _agrees(self, mistake: Mistake, index: int, unrunnable: bool = False) -> bool:
        """Whether the answer on case `index` equals the mistake's; `unrunnable` where the mistake cannot run."""
        try:
            return _close(self.gots[index], self.trusted(mistake.answer, index), self.exercise, equal_nan=True)
        except Exception:  # noqa: BLE001 - a mistake that cannot run on a case says nothing about it
            return unrunnable


def _pace(clock: dict, exercise: Exercise, where: str) -> None:
    """A check of many calls says where it is when it runs long, and stops at the time limit overall."""
    now = time.monotonic()
    if now - clock["start"] > CHECK_LIMIT_S:
        raise Failed(
            f"check_{exercise.name} stopped after {fmt(now - clock['start'], 3)} s at {where}: your function is too "
            "slow for the calls this check makes. Look for a loop over every entry (use tensor operations)."
        )
    first = clock["shown"] == clock["start"]
    if now - clock["shown"] > (PROGRESS_AFTER_S if first else 5 * PROGRESS_AFTER_S):  # then every 5 × as long
        print(f"… check_{exercise.name}: {where}", flush=True)
        clock["shown"] = now


def _judge_every_case(exercise: Exercise, fn, seed: int | None) -> set:
    """One run of a check: raises the verdict, or returns the names of the inputs the function changed in place."""
    session = _Session(exercise, fn, secrets.randbits(48) if seed is None else seed)
    for index in range(len(session.cases)):
        session.gots.append(session.learners_answer(index))
        if exercise.random and index == 0:
            _generator_discipline(fn, exercise, session.cases[0], session.seeds[-1])
        want = session.trusted(exercise.reference, index)
        if not _close(session.gots[-1], want, exercise) or _nonfinite(session.gots[-1]) is not None:
            session.judge()
    if exercise.random:
        _seed_discipline(fn, exercise, session.cases[0], session.seeds[-1])
    for case in session.cases if exercise.differentiable else ():
        _gradients_agree(fn, exercise, case)
    return session.notes


def _gradients(fn, exercise: Exercise, case: dict) -> list[torch.Tensor | None]:
    """The gradients of ``fn``'s answer (summed) in the declared inputs; None where no graph reaches one."""
    leaves = {key: case[key].detach().clone().requires_grad_() for key in exercise.differentiable}
    inputs = {**_copy(case), **{key: leaf.clone() for key, leaf in leaves.items()}}  # not leaves: writable in place
    args, kwargs = _split(exercise, inputs)
    with torch.autograd.graph.allow_mutation_on_saved_tensors():  # a write to an input after computing is allowed
        result = fn(*args, **kwargs)
        if not isinstance(result, torch.Tensor) or not result.requires_grad:
            return [None for _ in leaves]
        result.sum().backward()
    return [leaf.grad for leaf in leaves.values()]


def _gradients_agree(fn, exercise: Exercise, case: dict) -> None:
    """An answer with the right values must also have the reference's gradients in the declared inputs."""
    name, inputs = exercise.name, _call_text(exercise.name, *_split(exercise, case))
    try:
        got = _gradients(fn, exercise, case)
    except Exception as error:  # noqa: BLE001 - the learner's graph, not the check's code
        raise Failed(
            f"{name}'s answer for {inputs} has the right value, but .backward() on it fails "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}), and a later cell trains "
            "through it. Compute it with torch operations on the inputs themselves."
        ) from None
    want = _gradients(exercise.reference, exercise, case)
    for key, g, w in zip(exercise.differentiable, got, want, strict=True):
        if g is None:
            raise Failed(
                f"{name}'s answer has the right value but carries no gradient back to {key}, and a later cell "
                "trains through it: keep the computation in torch (no .item(), float(), .detach(), numpy or "
                "torch.tensor(...) on the way), so that .backward() reaches the weights."
            )
        if not torch.allclose(g.double(), w.double(), rtol=exercise.rtol, atol=exercise.atol):
            raise Failed(
                f"{name}'s answer has the right value but the wrong gradient with respect to {key} for {inputs} "
                "(a term computed on a detached copy?): training through it would move the weights the wrong way."
            )


def make_check(exercise: Exercise) -> Callable[..., None]:
    """The ``check_<name>`` function of a declared exercise."""
    name = exercise.name

    def check(fn, seed: int | None = None) -> None:
        with cpu_threads(1):  # a check's tensors are small: a second thread costs many times more on a busy machine
            notes = _judge_every_case(exercise, fn, seed)
        _PASSED[name] = fn
        print(f"✓ {name}: {exercise.passed}")
        if notes:
            print(
                f"  (note: your {name} also changed its argument{'s' if len(notes) > 1 else ''} "
                f"{', '.join(sorted(notes))} in place; later cells may not expect that.)"
            )

    check.__name__ = check.__qualname__ = f"check_{name}"
    check.__doc__ = (
        f"Check ``{exercise.signature}``: {exercise.passed}\n\nEach run draws new inputs; pass ``seed`` to repeat one."
    )
    check.exercise = exercise
    return check


def _check_random_output(exercise: Exercise, case: dict, parts: list) -> None:
    """Each draw of a random exercise has the reference's shape and finite values."""
    name = exercise.name
    for part, shape in zip(parts[0], _answer_shapes(exercise, case), strict=True):
        if isinstance(part, torch.Tensor) and tuple(part.shape) != shape:
            raise Failed(
                f"{name} returned shape {tuple(part.shape)} for {_call_text(name, *_split(exercise, case))}, "
                f"expected {shape}."
            )
    for draw in parts:
        if any(isinstance(p, torch.Tensor) and p.shape != q.shape for p, q in zip(draw, parts[0], strict=True)):
            raise Failed(f"{name} returned results of different shapes for the same arguments.")
        if _nonfinite(draw) is not None:
            raise Failed(f"{name} returned NaN or inf: every value it returns should be a finite number.")


def _answer_shapes(exercise: Exercise, case: dict) -> list[tuple]:
    kinds = exercise.returns if isinstance(exercise.returns, tuple) else (exercise.returns,)
    if "tensor" not in kinds:  # numbers, counts and words: no shape to learn from the reference
        return [() for _ in kinds]
    copies = _copy(case)
    copies["generator"] = torch.Generator().manual_seed(0)
    args, kwargs = _split(exercise, copies)
    parts = _read(exercise.returns, exercise.reference(*args, **kwargs), exercise.name)
    return [tuple(p.shape) if isinstance(p, torch.Tensor) else () for p in parts]


def yours_or_reference(fn):
    """Your function if its check has passed in this session; else the library's reference, with a note."""
    name = getattr(fn, "__name__", None)
    if name not in _REFERENCES:
        raise ValueError(f"no exercise is called {name!r}; pass one of: {', '.join(sorted(_REFERENCES))}")
    if _PASSED.get(name) is fn:
        return fn
    print(f"(using the library's reference {name}: yours has not passed check_{name} yet)")
    return _REFERENCES[name]


def uniform_gap(x: torch.Tensor, bins: int = 20) -> torch.Tensor:
    """The largest gap between the distribution function of the non-zero entries of `x` and the uniform one on
    [0, 1], at multiples of 1/bins (a binned Kolmogorov–Smirnov distance): a law with the right mean but another
    shape is off by about 0.1 or more, where 40,000 uniform values are off by about 0.005."""
    present = (x != 0).sum()
    counts = torch.histc(x.double(), bins=bins, min=0, max=1)  # entries outside [0, 1] drop out, and show
    counts[0] -= x.numel() - present  # the zeros of absent entries
    cdf = counts.cumsum(0) / present.clamp_min(1)
    return (cdf - torch.arange(1, bins + 1, dtype=torch.float64) / bins).abs().max()


def seeded(offset: int) -> torch.Generator:
    """A generator for drawing a check's cases: keyed by the current run's seed and `offset`, so each run of a
    check draws new inputs (and the same seed draws the same ones)."""
    return torch.Generator().manual_seed((_RUN["seed"] * 1_000_003 + offset) % 2**63)
