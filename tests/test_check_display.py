"""A check's verdict shows in a notebook as its message alone; an error inside the learner's own code shows the
learner's frames and what the check passed, nothing of the check's source."""

import nbformat
import pytest
from nbclient import NotebookClient

from superpose_lib import checks


def _stub(*args, **kwargs):
    raise NotImplementedError("the blank")


def _wrong_generate_batch(n_batch, n_features, feature_probability, generator=None):
    import torch

    return torch.randn(n_batch, n_features, generator=generator)  # not uniform on [0, 1]


def _buggy(*args, **kwargs):
    assert 1 == 2, "the learner's own assert"


def test_an_untouched_blank_is_reported_in_one_line():
    with pytest.raises(NotImplementedError, match="generate_batch is not implemented yet") as info:
        checks.check_generate_batch(_stub)
    assert type(info.value).__name__ == "NotImplementedError"
    (line,) = info.value._render_traceback_()
    assert "NotImplementedError" in line and "generate_batch is not implemented yet" in line


def test_a_wrong_answer_is_reported_by_its_hint_alone():
    with pytest.raises(AssertionError) as info:
        checks.check_generate_batch(_wrong_generate_batch)
    assert type(info.value).__name__ == "AssertionError"
    (line,) = info.value._render_traceback_()
    assert str(info.value) in line


def test_an_error_inside_the_learners_code_shows_its_frames_and_what_was_passed():
    with pytest.raises(AssertionError, match="the learner's own assert") as info:
        checks.check_generate_batch(_buggy)
    shown = "\n".join(info.value._render_traceback_())
    assert "_buggy" in shown and "assert 1 == 2" in shown
    assert "superpose_lib/checks" not in shown and "threading" not in shown
    assert "called as generate_batch(20000, 10, 1.0, generator=a torch.Generator)" in shown
    with pytest.raises(ZeroDivisionError):
        checks.check_generate_batch(lambda *args, **kwargs: 1 / 0)


def test_a_wrong_signature_is_a_message_naming_the_expected_one():
    def generate_batch(n_batch, n_features, feature_probability, gen=None):
        return None

    with pytest.raises(
        AssertionError,
        match=r"def generate_batch\(n_batch, n_features, feature_probability, "
        r"generator=None\)",
    ) as info:
        checks.check_generate_batch(generate_batch)
    assert hasattr(info.value, "_render_traceback_")


def test_in_a_kernel_the_verdict_is_one_line_with_its_builtin_name():
    cells = [
        "from superpose_lib.checks import check_generate_batch, check_toy_forward",
        "def generate_batch(n_batch, n_features, feature_probability, generator=None):\n"
        "    raise NotImplementedError('generate_batch: not implemented yet')\n\n"
        "check_generate_batch(generate_batch)",
        "def toy_forward(W, b, x):\n    return W[5]\n\ncheck_toy_forward(toy_forward)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(notebook, kernel_name="python3", timeout=120, allow_errors=True).execute()
    (error,) = [o for o in notebook.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "NotImplementedError"
    assert len(error.traceback) == 1 and "generate_batch is not implemented yet" in error.traceback[0]
    (learners,) = [o for o in notebook.cells[2].outputs if o.output_type == "error"]
    shown = "\n".join(learners.traceback)
    assert learners.ename == "IndexError" and "return W[5]" in shown and "called as toy_forward(" in shown
    assert "superpose_lib" not in shown
