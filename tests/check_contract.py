"""The contract every declared exercise meets, generated from its declaration (`checks._common.Exercise`):

- its reference passes, and is what ``yours_or_reference`` falls back to;
- each named mistake fails with its own hint;
- the hostile battery (`hostile.py`): NaN and inf in the output, inputs mutated in place before and after
  computing, float64 answers, numpy arrays, the wrong shape, a global seed instead of the generator, a reseeded
  generator, the wrong signature, a default changed, a slow function, the untouched blank, a missing return,
  answers remembered from another run, answers read from the check's memory, a default hidden in ``**kwargs``,
  each argument hard-coded; each gets the verdict it must get, and none raises from the check's own code.

A chapter's exercises are covered as soon as they are declared: ``test_checks.py`` binds these tests.
HOSTILE_FULL=1 adds one mutation variant per input (each input on its own, before and after computing).
"""

import os

import hostile
import pytest

from superpose_lib import checks
from superpose_lib.checks import _common

NAMES = sorted(_common.EXERCISES)
FAST_LIMIT_S = 1.5  # the checks' time limit under test (the slowest reference call takes about 0.4 s under load)


def check_of(name):
    return getattr(checks, f"check_{name}")


def _battery():
    rows = []
    for name in NAMES:
        exercise = _common.EXERCISES[name]
        variants = hostile.variants(name, exercise.reference, exercise.parameters)
        if os.environ.get("HOSTILE_FULL"):
            variants += hostile.per_input_mutations(name, exercise.reference, exercise.parameters)
        rows += [pytest.param(name, label, expected, id=f"{name}-{label}") for label, _, expected in variants]
        rows += [
            pytest.param(name, label, "fail", id=f"{name}-{label}")
            for label in hostile.exercise_variant_labels(exercise)
        ]
    return rows


# What a failing verdict must say, by variant (a wrong answer may also fail inside the learner's own code
# when it mutates its inputs before computing: the reference may reject what it made of them).
_WORDS = {
    "slow": "took more than",
    "stub": "not implemented yet",
    "no_return": "forget the `return`",
    "signature_missing_last": "should be defined as",
    "signature_renamed": "should be defined as",
    "global_seed": "generator",
    "changed_default": "default",
    "default_in_kwargs": "",
}


def contract_tests():
    mistakes = [
        pytest.param(name, i, id=f"{name}-{i}") for name in NAMES for i in range(len(_common.EXERCISES[name].mistakes))
    ]

    @pytest.mark.parametrize("name", NAMES)
    def test_reference_passes(name, capsys):
        exercise = _common.EXERCISES[name]
        check_of(name)(exercise.reference)
        assert f"✓ {name}" in capsys.readouterr().out
        assert _common._REFERENCES[name] is exercise.reference

    @pytest.mark.parametrize(("name", "index"), mistakes)
    def test_named_mistake_fails_with_its_hint(name, index):
        mistake = _common.EXERCISES[name].mistakes[index]
        outcome, message = hostile.run(check_of(name), mistake.answer)
        assert outcome == "verdict", message
        assert mistake.hint in message

    @pytest.mark.parametrize(("name", "label", "expected"), _battery())
    def test_hostile_battery(name, label, expected, monkeypatch, capsys):
        monkeypatch.setattr(_common, "TIME_LIMIT_S", FAST_LIMIT_S)
        monkeypatch.setattr(_common, "PROGRESS_AFTER_S", FAST_LIMIT_S / 3)
        exercise = _common.EXERCISES[name]
        variants = hostile.variants(name, exercise.reference, exercise.parameters)
        variants += hostile.per_input_mutations(name, exercise.reference, exercise.parameters)
        variants += hostile.exercise_variants(exercise, only=label)
        fn = next(fn for variant, fn, _ in variants if variant == label)
        outcome, message = hostile.run(check_of(name), fn)
        if label.startswith("hard_coded") and not getattr(fn, "changed", True):  # an argument that hardly matters
            assert outcome in ("pass", "verdict", "learner"), message
            return
        if not getattr(fn, "changed", True):  # nothing to spoil: the variant is the reference
            expected = "pass"
        if expected == "pass":
            assert outcome == "pass", message
            return
        # a wrong answer may also fail inside the learner's own code: inputs mutated before computing, or a
        # hard-coded argument or a default that does not fit the other arguments
        allowed = (
            ("verdict", "learner") if label.startswith(("mutate_before", "hard_coded", "default_in")) else ("verdict",)
        )
        assert outcome in allowed, message
        assert _WORDS.get(label, "") in message

    return test_reference_passes, test_named_mistake_fails_with_its_hint, test_hostile_battery
