"""A hostile battery for exercise checks, generated from each exercise's reference: answers a careless or
adversarial learner could write, each with the verdict it must get.

Correct answers (the reference returning float64, or writing to its inputs after computing) must pass; wrong
ones (NaN or inf in the output, inputs mutated before computing, numpy arrays, the wrong shape, a global seed
instead of the generator, the wrong signature, a slow function; answers remembered from another run, answers read
from the check's own memory, a default hidden in ``**kwargs``, an argument ignored for a hard-coded value) must
get a check's verdict, never a tick, and no error may come out of the check's own code. `run(check, fn)`
classifies what happened.
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from superpose_lib import checks
from superpose_lib.checks import _common
from superpose_lib.environment import cpu_threads

CHECKS_FOLDER = Path(checks.__file__).resolve().parent
SLOW_SECONDS = 3.0  # how long the slow learner sleeps; tests set the checks' time limit well below it


# --- outcomes ------------------------------------------------------------------------------------------------


def run(check, fn, seed: int | None = 0) -> tuple[str, str]:
    """Call ``check(fn, seed=seed)`` and say what happened: "pass", "verdict" (the check's own message), "learner" (an
    error raised inside the learner's function), "raw" (a TypeError from calling the learner with the wrong
    signature) or "crash" (any other error from the check's own code)."""
    try:
        if seed is not None and "seed" in inspect.signature(check).parameters:
            check(fn, seed=seed)
        else:
            check(fn)
    except BaseException as error:  # noqa: BLE001 - classifying is the point
        frames = []
        tb = error.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code)
            tb = tb.tb_next
        through_learner = getattr(fn, "__code__", None) in frames or getattr(error, "_from_learner", False)
        if through_learner:
            return "learner", f"{type(error).__name__}: {error}"
        if isinstance(error, AssertionError | NotImplementedError) and _is_verdict(error):
            return "verdict", str(error)
        if isinstance(error, TypeError):
            return "raw", f"{type(error).__name__}: {error}"
        return "crash", f"{type(error).__name__}: {error}"
    return "pass", ""


def _is_verdict(error: BaseException) -> bool:
    """A verdict is raised by the checks package itself (and shown as its message alone)."""
    if hasattr(error, "_render_traceback_"):
        return True
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().parent == CHECKS_FOLDER


# --- building hostile answers from the reference ------------------------------------------------------------


def _map(value, fn):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple | list):
        return type(value)(_map(v, fn) for v in value)
    return value


def _poison(value, bad: float):
    """The output with its first floating-point entry replaced by `bad` (NaN or inf); None if it has none."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 0:
            return None
        out = (
            value.detach()
            .to(torch.promote_types(value.dtype, torch.float32))
            .clone(memory_format=torch.contiguous_format)
        )
        out.view(-1)[0] = bad
        return out
    if isinstance(value, bool):
        return None
    if isinstance(value, float | int):
        return bad
    if isinstance(value, tuple | list) and not any(isinstance(v, str | tuple | list) for v in value):
        for i, item in enumerate(value):
            poisoned = _poison(item, bad)
            if poisoned is not None:
                return type(value)([*value[:i], poisoned, *value[i + 1 :]])
    return None


def _mutate(value) -> bool:
    """Change a tensor (or a list of numbers) in place; True if something changed."""
    if isinstance(value, torch.Tensor) and value.numel() > 0:
        if value.dtype == torch.bool:
            value.logical_not_()
        elif value.is_floating_point():
            value.copy_(torch.sin(3 * value) + 0.3)
        else:
            if value.ndim == 0 or value.shape[0] < 2:
                return False
            value.copy_(value.flip(0).roll(1, 0))
        return True
    if isinstance(value, list) and len(value) > 1 and all(isinstance(v, int | float) for v in value):
        value[:] = [v * 1.7 + 0.1 for v in reversed(value)]
        return True
    return False


def _has_tensor(value) -> bool:
    if isinstance(value, tuple | list):
        return any(_has_tensor(v) for v in value)
    return isinstance(value, torch.Tensor)


def _clone(value):
    return _map(value, lambda t: t.clone())  # a copy that keeps its graph: a trained-through answer stays one


def _params(reference):
    return list(inspect.signature(reference).parameters.values())


def _named(fn, name):
    fn.__name__ = name
    return fn


def variants(name: str, reference, params=None) -> list[tuple[str, object, str]]:
    """(variant, learner function, the outcome it must get: "pass" or "fail") for one exercise whose learner
    function takes `params` (inspect.Parameter, the reference's own by default)."""
    params = params or _params(reference)
    has_generator = any(p.name == "generator" for p in params)
    out = []

    def nan_output(*args, **kwargs):
        result = reference(*args, **kwargs)
        poisoned = _poison(result, math.nan)
        nan_output.changed |= poisoned is not None
        return result if poisoned is None else poisoned

    def inf_output(*args, **kwargs):
        result = reference(*args, **kwargs)
        poisoned = _poison(result, math.inf)
        inf_output.changed |= poisoned is not None
        return result if poisoned is None else poisoned

    def mutate_before(*args, **kwargs):
        for value in [*args, *kwargs.values()]:
            if _mutate(value):
                mutate_before.changed = True
        return reference(*args, **kwargs)

    mutate_before.changed = False

    def mutate_after(*args, **kwargs):
        result = _clone(reference(*args, **kwargs))
        for value in [*args, *kwargs.values()]:
            _mutate(value)
        return result

    def float64(*args, **kwargs):
        def up(t):
            return t.double() if t.is_floating_point() else t

        result = reference(*_map(list(args), up), **{k: _map(v, up) for k, v in kwargs.items()})
        return _map(result, up)

    def numpy_output(*args, **kwargs):
        result = reference(*args, **kwargs)
        numpy_output.changed |= _has_tensor(result)
        return _map(result, lambda t: t.detach().numpy())

    def wrong_shape(*args, **kwargs):
        result = reference(*args, **kwargs)
        wrong_shape.changed |= _has_tensor(result)
        return _map(result, lambda t: t.unsqueeze(0))

    for variant in (nan_output, inf_output, numpy_output, wrong_shape):
        variant.changed = False  # set when the answer had something to spoil; else it is the reference

    def global_seed(*args, **kwargs):
        torch.manual_seed(0)
        kwargs["generator"] = None
        return reference(*args, **kwargs)

    def slow(*args, **kwargs):
        time.sleep(SLOW_SECONDS)
        return reference(*args, **kwargs)

    def stub(*args, **kwargs):
        raise NotImplementedError("the workbook's blank")

    def no_return(*args, **kwargs):
        reference(*args, **kwargs)

    out += [
        ("nan_output", nan_output, "fail"),
        ("inf_output", inf_output, "fail"),
        ("mutate_before", mutate_before, "fail"),
        ("mutate_after", mutate_after, "pass"),
        ("float64", float64, "pass"),
        ("numpy_output", numpy_output, "fail"),
        ("wrong_shape", wrong_shape, "fail"),
        ("slow", slow, "fail"),
        ("stub", stub, "fail"),
        ("no_return", no_return, "fail"),
    ]

    def reseed_generator(*args, **kwargs):
        kwargs["generator"].manual_seed(0)  # draws from its generator, but the caller's seed no longer matters
        return reference(*args, **kwargs)

    if has_generator:
        out.append(("global_seed", global_seed, "fail"))
        out.append(("reseed_generator", reseed_generator, "fail"))
    out += _wrong_signatures(reference, params) + _changed_defaults(reference, params)
    return [(label, _named(fn, name), expected) for label, fn, expected in out]


def per_input_mutations(name: str, reference, params=None) -> list[tuple[str, object, str]]:
    """One input at a time, mutated in place before computing (must fail, if it changed anything the answer
    depends on) and after computing (must pass)."""
    params = params or _params(reference)
    signature = inspect.Signature([p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])
    out = []
    for param in params:
        out += _mutations_of(param.name, name, reference, signature)
    return out


def _mutations_of(param: str, name: str, reference, signature) -> list[tuple[str, object, str]]:
    def before(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        if param in bound.arguments and _mutate(bound.arguments[param]):
            before.changed = True
        return reference(*args, **kwargs)

    def after(*args, **kwargs):
        result = _clone(reference(*args, **kwargs))
        bound = signature.bind(*args, **kwargs)
        if param in bound.arguments:
            _mutate(bound.arguments[param])
        return result

    before.changed = False
    return [
        (f"mutate_before_{param}", _named(before, name), "fail"),
        (f"mutate_after_{param}", _named(after, name), "pass"),
    ]


def _wrong_signatures(reference, params):
    """Functions computing the right thing under another signature: the last parameter dropped (the check
    passes it, so this must fail), and a parameter renamed: an optional one (the check passes it by keyword,
    so this must fail) or, without optional ones, the last (passed by position: this must pass)."""
    names = [p.name for p in params]
    optional = [i for i, p in enumerate(params) if p.default is not inspect.Parameter.empty]
    target = optional[-1] if optional else len(names) - 1
    renamed = list(names)
    renamed[target] = "gen" if names[target] == "generator" else names[target] + "_value"
    header = [
        n if params[i].default is inspect.Parameter.empty else f"{n}={params[i].default!r}"
        for i, n in enumerate(renamed)
    ]
    scope = {"reference": reference}
    exec(f"def dropped_last({', '.join(names[:-1])}):\n    return reference({', '.join(names[:-1])})", scope)  # noqa: S102
    exec(f"def renamed({', '.join(header)}):\n    return reference({', '.join(renamed)})", scope)  # noqa: S102
    return [
        ("signature_missing_last", scope["dropped_last"], "fail"),
        ("signature_renamed", scope["renamed"], "fail" if optional else "pass"),
    ]


def _changed_defaults(reference, params):
    """The right computation with a different default for an optional argument other than the generator (later
    cells call the function without it, so this must fail, whatever values the check passes)."""
    names = [p.name for p in params]
    optional = [p for p in params if p.default is not inspect.Parameter.empty and p.name != "generator"]
    if not optional:
        return []
    target = optional[0]
    other = target.default * 2 if isinstance(target.default, int | float) else None
    header = [
        p.name if p.default is inspect.Parameter.empty else f"{p.name}={other if p is target else p.default!r}"
        for p in params
    ]
    scope = {"reference": reference}
    exec(f"def changed_default({', '.join(header)}):\n    return reference({', '.join(names)})", scope)  # noqa: S102
    return [("changed_default", scope["changed_default"], "fail")]


def exercise_variant_labels(exercise) -> list[str]:
    """The labels of `exercise_variants`, without building them."""
    labels = ["memorised"] + ([] if exercise.random else ["reads_expected_answers"])
    labels += ["default_in_kwargs"] if _changed_defaults_of(exercise) else []
    labels += ["detached"] if exercise.differentiable else []
    return labels + [f"hard_coded_{p.name}" for p in exercise.parameters if p.name != "generator"]


def exercise_variants(exercise, only: str | None = None) -> list[tuple[str, object, str]]:
    """Hostile answers that need the declaration, not only the reference: answers remembered from another run of
    the check (a table), answers read from the check's own memory, a default hidden in ``**kwargs``, the right
    value without its graph where a later cell trains through the answer, and, for each argument, a function that
    ignores it for the value it was first given (a hard-coded value). All must fail."""
    builders = {
        "memorised": lambda: _memorised(exercise, seed=1),
        "reads_expected_answers": lambda: _reads_expected_answers(exercise),
        "default_in_kwargs": lambda: _default_in_kwargs(exercise),
        "detached": lambda: lambda *args, **kwargs: _map(exercise.reference(*args, **kwargs), torch.Tensor.detach),
    }
    out = []
    for label in exercise_variant_labels(exercise):
        if only is None or label == only:
            build = builders.get(label) or (lambda label=label: _hard_coded(exercise, label[len("hard_coded_") :]))
            out.append((label, _named(build(), exercise.name), "fail"))
    return out


def _outputs(exercise, case: dict, generator) -> list:
    args, kwargs = _common._split(exercise, copy.deepcopy(case))
    if exercise.random:
        kwargs["generator"] = generator
    return [exercise.reference(*args, **kwargs) for _ in range(exercise.calls)]


def _memorised(exercise, seed: int):
    """The reference's answers for the run with `seed`, replayed in the order the check asks (a table)."""
    generator = torch.Generator().manual_seed(seed)
    table = [out for case in _cases(exercise, seed) for out in _outputs(exercise, case, generator)]
    calls = iter(range(10**9))

    def memorised(*args, **kwargs):
        return _clone(table[next(calls) % len(table)])

    return memorised


def _cases(exercise, seed: int) -> list[dict]:
    draw = getattr(exercise, "draw_cases", None)
    return draw(seed) if draw is not None else exercise.cases()  # an engine without fresh cases: its fixed ones


def _unread(kind, parts):
    """A trusted answer as the engine stores it (float64 parts), turned back into what the function returns."""
    if isinstance(kind, tuple):
        return tuple(_unread(k, [p]) for k, p in zip(kind, parts, strict=True))
    part = parts[0]
    if kind == "words":
        return list(part)
    if kind == "tensor":
        return part.clone()
    return int(part) if kind == "count" else float(part)


def _reads_expected_answers(exercise):
    """Looks for the expected answer where a check might keep it (the engine's module, the frames of every
    thread) and returns it; where it finds none it returns a wrong answer (NaN, or no words)."""
    calls = iter(range(10**9))

    def reads_expected_answers(*args, **kwargs):
        index = next(calls)
        for found in _expected_answers_in_reach(exercise, index):
            return _unread(exercise.returns, found)
        result = exercise.reference(*args, **kwargs)
        poisoned = _poison(result, math.nan)
        return poisoned if poisoned is not None else ["not", "an", "answer"]

    return reads_expected_answers


def _expected_answers_in_reach(exercise, index: int):
    cache = getattr(_common, "_ANSWERS", {})  # the engine before this battery: answers cached at import
    for key, value in list(cache.items()):
        if key[:3] == (exercise.name, exercise.reference, index) or key == (exercise.name, exercise.reference, index):
            yield value
    for frame in list(sys._current_frames().values()):
        while frame is not None:
            local = frame.f_locals
            wants = local.get("wants")
            if isinstance(wants, list) and len(wants) > index:
                yield wants[index]
            session = local.get("session") or local.get("self")
            trusted = getattr(session, "_trusted", None)
            if isinstance(trusted, dict) and (id(exercise.reference), index) in trusted:
                yield trusted[(id(exercise.reference), index)]
            frame = frame.f_back


def _changed_defaults_of(exercise) -> dict:
    optional = [p for p in exercise.parameters if p.default is not inspect.Parameter.empty and p.name != "generator"]
    return {p.name: p.default * 2 for p in optional if isinstance(p.default, int | float) and p.default}


def _default_in_kwargs(exercise):
    """``def f(x, **kwargs)`` that reads its optional arguments from kwargs with other defaults."""
    changed = _changed_defaults_of(exercise)
    required = [p.name for p in exercise.parameters if p.default is inspect.Parameter.empty]
    scope = {"reference": exercise.reference, "changed": changed}
    exec(  # noqa: S102
        f"def default_in_kwargs({', '.join(required)}, **kwargs):\n"
        f"    return reference({', '.join(required)}, **{{**changed, **kwargs}})",
        scope,
    )
    return scope["default_in_kwargs"]


def perturbed(value):
    """Another value of the same kind (for asking whether an answer depends on an argument); None if unknown."""
    if isinstance(value, torch.Tensor):
        other = value.detach().clone()
        return other if _mutate(other) else None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.7 + 0.1
    if isinstance(value, list):
        other = list(value)
        return other if _mutate(other) else None
    return None


_DEPENDS: dict = {}


def depends_on(exercise, cases: list[dict], param: str) -> bool:
    """`_depends_on`, remembered for an exercise's cases at seed 0."""
    key = (exercise.name, param)
    if cases is None and key in _DEPENDS:
        return _DEPENDS[key]
    with cpu_threads(1):  # as the checks run: small tensors, where a second thread costs more on a busy machine
        result = _depends_on(exercise, _cases(exercise, 0) if cases is None else cases, param)
    if cases is None:
        _DEPENDS[key] = result
    return result


def _depends_on(exercise, cases: list[dict], param: str) -> bool:
    """Whether the reference's answer on some case changes (its shape, or its value beyond the check's tolerance;
    for a random exercise, its statistics) when `param` takes another value, or cannot take it. Arguments of other
    kinds (words, word-vector tables) count as mattering."""
    default = next(p.default for p in exercise.parameters if p.name == param)
    values = [case.get(param, default) for case in cases]
    seed = 0 if exercise.random else None
    for case, value in zip(cases, values, strict=True):
        if not isinstance(value, torch.Tensor | int | float | list | type(None)):
            return True
        others = [v for v in values if type(v) is type(value) and not _is(v, value)]  # values other cases use
        others = others or [perturbed(value), value / 2 if isinstance(value, float) else None]  # or made up
        want = None
        for other in filter(lambda o: o is not None, others):
            try:
                if _shapes(exercise, case) != _shapes(exercise, {**case, param: other}):
                    return True
                want = want or _common._answer(exercise.reference, exercise, case, seed)
                got = _common._answer(exercise.reference, exercise, {**case, param: other}, seed)
            except Exception:  # noqa: BLE001 - a value it cannot take: the argument matters
                return True
            if not _common._close(got, want, exercise):
                return True
    return False


def _is(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    return a == b


def _shapes(exercise, case: dict) -> list:
    args, kwargs = _common._split(exercise, copy.deepcopy(case))
    if exercise.random:
        kwargs["generator"] = torch.Generator().manual_seed(0)
    shapes = []
    _map(exercise.reference(*args, **kwargs), lambda t: shapes.append(tuple(t.shape)))
    return shapes


def _hard_coded(exercise, param: str):
    """Computes the right thing with `param` fixed at the first value it was given (a hard-coded number)."""
    signature = inspect.Signature(
        [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in exercise.parameters]
    )
    first: dict = {}

    def hard_coded(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if "value" not in first:
            first["value"] = copy.deepcopy(bound.arguments[param])
        bound.arguments[param] = copy.deepcopy(first["value"])
        return exercise.reference(*bound.args, **bound.kwargs)

    hard_coded.changed = depends_on(exercise, None, param)  # an argument the answer ignores may be hard-coded
    return hard_coded


def numpy_inputs(value):
    """Learner code that insists on numpy: np.asarray of a tensor works, so this returns numpy arrays."""
    return np.asarray(value)


# --- summarising a run --------------------------------------------------------------------------------------


def judge(variant: str, expected: str, outcome: str, fn=None) -> str | None:
    """The problem with an outcome, or None when it is right."""
    if (
        variant.startswith("hard_coded")
        and not getattr(fn, "changed", True)
        and outcome in ("pass", "verdict", "learner")
    ):
        return None  # an argument the answer hardly depends on: hard-coding it is neither clearly right nor wrong
    if not getattr(fn, "changed", True):  # the hostile change found nothing to spoil
        expected = "pass"
    if expected == "pass":
        if outcome == "pass":
            return None
        return {"verdict": "false fail", "raw": "raw traceback"}.get(
            outcome, outcome if outcome == "crash" else "error"
        )
    if outcome == "pass":
        return "silent wait" if variant == "slow" else "false pass"
    if outcome in ("verdict", "learner"):
        return None
    return {"raw": "raw traceback", "crash": "crash"}[outcome]
