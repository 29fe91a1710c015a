"""The contract every exercise check meets, written once and applied to each chapter's table of cases.

A chapter's test file builds ``CASES = {exercise: (reference, [(wrong answer, words its message must contain),
...])}`` and binds the returned tests to module-level names, so pytest collects them there:

    test_reference_passes, test_plausible_mistake_fails_with_its_hint, test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named = check_contract.contract_tests(CASES)
"""

import pytest

from superpose_lib import checks
from superpose_lib.checks._common import _REFERENCES


def stub(*args, **kwargs):
    raise NotImplementedError("the workbook's blank")


def check_of(name):
    return getattr(checks, f"check_{name}")


def contract_tests(cases: dict):
    names = sorted(cases)
    mistakes = [(name, wrong, words) for name, (_, wrongs) in sorted(cases.items()) for wrong, words in wrongs]

    @pytest.mark.parametrize("name", names)
    def test_reference_passes(name, capsys):
        check_of(name)(cases[name][0])
        assert f"✓ {name}" in capsys.readouterr().out
        assert name in _REFERENCES, f"register {name}'s reference in _REFERENCES, for yours_or_reference"

    @pytest.mark.parametrize(("name", "wrong", "words"), mistakes)
    def test_plausible_mistake_fails_with_its_hint(name, wrong, words):
        with pytest.raises(AssertionError) as info:
            check_of(name)(wrong)
        assert words in str(info.value)

    @pytest.mark.parametrize("name", names)
    def test_untouched_stub_reports_not_implemented(name):
        with pytest.raises(NotImplementedError, match="not implemented yet"):
            check_of(name)(stub)

    @pytest.mark.parametrize("name", names)
    def test_missing_return_is_named(name):
        with pytest.raises(AssertionError, match="forget the `return`"):
            check_of(name)(lambda *args, **kwargs: None)

    return (
        test_reference_passes,
        test_plausible_mistake_fails_with_its_hint,
        test_untouched_stub_reports_not_implemented,
        test_missing_return_is_named,
    )
