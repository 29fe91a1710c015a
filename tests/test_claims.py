"""Executable claims: claim() shows its line and fails loudly, a false claim fails a notebook run, and
tools/claims.py (make claims) reports held, failed and missing claims from stored outputs."""

import json
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from superpose_lib.claims import ClaimFailed, claim

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import claims as claims_tool  # noqa: E402

# ---------------------------------------------------------------------------------------------- claim()


def test_a_claim_that_holds_shows_its_line_with_the_evidence(capsys):
    claim("the gap is small", 0.01 < 0.05, {"gap": 0.0123456, "tolerance": 0.05})
    assert capsys.readouterr().out == "✓ the gap is small  [gap = 0.01235, tolerance = 0.05]\n"


def test_evidence_may_be_a_string_and_integers_get_thousands_separators(capsys):
    claim("enough words", 40000 > 10000, {"words": 40000})
    claim("stated plainly", True is True, "3 of 3 seeds")
    assert capsys.readouterr().out.splitlines() == [
        "✓ enough words  [words = 40,000]",
        "✓ stated plainly  [3 of 3 seeds]",
    ]


def test_a_claim_that_fails_raises_with_the_statement_and_the_numbers(capsys):
    with pytest.raises(ClaimFailed) as failure:
        claim("the error is below 1%", 0.034 < 0.01, {"error": 0.034, "threshold": 0.01})
    message = str(failure.value)
    assert "the error is below 1%" in message and "error = 0.034" in message and "threshold = 0.01" in message
    assert capsys.readouterr().out.startswith("✗ the error is below 1%")


def test_tensor_and_numpy_evidence_shows_as_plain_numbers(capsys):
    claim("scalars", True, {"tensor": torch.tensor(1.23456), "numpy": np.float32(0.5), "count": np.int64(12000)})
    assert capsys.readouterr().out == "✓ scalars  [tensor = 1.235, numpy = 0.5, count = 12,000]\n"


def test_holds_accepts_numpy_and_torch_booleans(capsys):
    claim("numpy", np.float64(1.0) < 2.0, {"x": 1.0})
    claim("torch", torch.tensor(1.0) < 2.0, {"x": 1.0})
    assert capsys.readouterr().out.splitlines() == ["✓ numpy  [x = 1]", "✓ torch  [x = 1]"]
    with pytest.raises(ClaimFailed):
        claim("torch, false", torch.tensor(3.0) < 2.0, {"x": 3.0})


@pytest.mark.parametrize("holds", [0.3, 1, None, np.array([True, False]), "yes"])
def test_holds_must_be_the_comparison_not_a_number(holds):
    with pytest.raises(TypeError, match="holds must be a bool"):
        claim("a statement", holds, {"x": 1})


@pytest.mark.parametrize(
    ("statement", "evidence", "match"),
    [("", {"x": 1}, "statement must be a non-empty string"), ("ok", 3.0, "evidence must be a string or a dict")],
)
def test_bad_statement_or_evidence_is_a_value_error_naming_the_argument(statement, evidence, match):
    with pytest.raises(ValueError, match=match):
        claim(statement, True, evidence)


# ------------------------------------------------------------------------------------ in a notebook run


def _run(notebook, tmp_path):
    from nbclient import NotebookClient

    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return notebook


def test_a_claim_in_a_notebook_leaves_a_display_record_that_the_tool_reads(tmp_path):
    notebook = new_notebook(
        cells=[new_code_cell('from superpose_lib.claims import claim\nclaim("one is one", 1 == 1, {"one": 1})')]
    )
    _run(notebook, tmp_path)
    (output,) = notebook.cells[0].outputs
    assert output.output_type == "display_data"
    assert output.data["text/plain"] == "✓ one is one  [one = 1]"
    assert output.metadata["superpose"]["claim"] == {"statement": "one is one", "holds": True, "evidence": "one = 1"}
    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(notebook, path)
    (record,) = claims_tool.notebook_claims(path)
    assert (record.chapter, record.statement, record.holds, record.evidence) == ("00", "one is one", True, "one = 1")


def test_a_perturbed_claim_fails_the_notebook_run_with_its_message(tmp_path):
    from nbclient.exceptions import CellExecutionError

    source = (
        "from superpose_lib.claims import claim\n"
        "measured, threshold = 0.5, 0.1  # the evidence, perturbed past its threshold\n"
        'claim("the measured gap is under the threshold", measured < threshold,\n'
        '      {"gap": measured, "threshold": threshold})'
    )
    notebook = new_notebook(cells=[new_code_cell(source), new_code_cell("print('never reached')")])
    with pytest.raises(CellExecutionError) as failure:
        _run(notebook, tmp_path)
    message = str(failure.value)
    assert "ClaimFailed" in message
    assert "the measured gap is under the threshold" in message and "gap = 0.5" in message
    assert not notebook.cells[1].get("outputs")


# ----------------------------------------------------------------------------------- tools/claims.py


def _record(statement, holds=True, evidence="x = 1"):
    return new_output(
        "display_data",
        data={"text/plain": f"{'✓' if holds else '✗'} {statement}  [{evidence}]"},
        metadata={"superpose": {"claim": {"statement": statement, "holds": holds, "evidence": evidence}}},
    )


def _cell(source, outputs=(), execution_count=1):
    cell = new_code_cell(source, execution_count=execution_count)
    cell.outputs = list(outputs)
    return cell


def _write(tmp_path, cells, name="03_synthetic.ipynb"):
    path = tmp_path / name
    nbformat.write(new_notebook(cells=[new_markdown_cell("# A synthetic lecture"), *cells]), path)
    return path


def _states(path):
    return [(c.chapter, c.statement, c.holds) for c in claims_tool.notebook_claims(path)]


def test_held_failed_and_missing_claims_are_told_apart(tmp_path):
    path = _write(
        tmp_path,
        [
            _cell('claim("a held claim", x < 1, {"x": 0.5})', [_record("a held claim")]),
            _cell('claim("a failed claim", x < 1, {"x": 2})', [_record("a failed claim", holds=False)]),
            _cell('claim("never run", x < 1, {"x": 0.5})', [], execution_count=None),
        ],
    )
    assert _states(path) == [("03", "a held claim", True), ("03", "a failed claim", False), ("03", "never run", None)]


def test_a_claim_added_after_the_outputs_were_stored_is_missing_not_held(tmp_path):
    # The cell ran and stored one record; then a second claim was written into it without re-running.
    source = 'claim("first", a < 1, {"a": 0})\nclaim("second, added later", b < 1, {"b": 0})'
    path = _write(tmp_path, [_cell(source, [_record("first")])])
    assert _states(path) == [("03", "first", True), ("03", "second, added later", None)]


def test_an_edited_statement_with_stale_outputs_is_missing(tmp_path):
    path = _write(tmp_path, [_cell('claim("the new wording", a < 1, {"a": 0})', [_record("the old wording")])])
    states = _states(path)
    assert ("03", "the new wording", None) in states and ("03", "the old wording", True) in states


def test_a_cell_with_outputs_but_no_execution_count_counts_as_not_run(tmp_path):
    path = _write(tmp_path, [_cell('claim("copied outputs", a < 1, {"a": 0})', [_record("copied outputs")], None)])
    assert _states(path) == [("03", "copied outputs", None)]


def test_a_loop_cannot_stand_in_for_another_claim(tmp_path):
    # A loop's three records for one call do not account for the second call, which never ran.
    source = (
        'for n in (1, 2, 3):\n    claim(f"n = {n} is small", n < 4, {"n": n})\n'
        'claim("the loop ended", True, "after the loop")'
    )
    records = [_record(f"n = {n} is small") for n in (1, 2, 3)]
    path = _write(tmp_path, [_cell(source, records)])
    assert _states(path) == [
        ("03", "n = 1 is small", True),
        ("03", "n = 2 is small", True),
        ("03", "n = 3 is small", True),
        ("03", "the loop ended", None),
    ]


def test_a_statement_held_in_a_variable_needs_a_record_of_its_own(tmp_path):
    source = 'statement = "read from a variable"\nclaim(statement, True, "e")\nclaim("a literal", True, "e")'
    one = _write(tmp_path, [_cell(source, [_record("a literal")])], "01_one.ipynb")
    assert _states(one) == [("01", "a literal", True), ("01", "statement", None)]
    both = _write(tmp_path, [_cell(source, [_record("read from a variable"), _record("a literal")])], "01_two.ipynb")
    assert _states(both) == [("01", "read from a variable", True), ("01", "a literal", True)]


def test_a_claim_inside_a_function_is_expected_where_the_function_runs(tmp_path):
    define = 'def check(x):\n    claim(f"{x} is small", x < 4, {"x": x})'
    path = _write(
        tmp_path, [_cell(define, []), _cell("check(1)\ncheck(2)", [_record("1 is small"), _record("2 is small")])]
    )
    assert _states(path) == [("03", "1 is small", True), ("03", "2 is small", True)]


def test_magics_and_module_qualified_calls_are_read(tmp_path):
    source = '%matplotlib inline\nfrom superpose_lib import claims\nclaims.claim("qualified", True, "e")'
    path = _write(tmp_path, [_cell(source, [])])
    assert _states(path) == [("03", "qualified", None)]


def test_json_mode_prints_one_object_per_line_with_the_four_keys(tmp_path, capsys):
    path = _write(
        tmp_path,
        [
            _cell('claim("held", True, "e")', [_record("held", evidence="x = 1, tolerance = 0.1")]),
            _cell('claim("missing", True, "e")', [], execution_count=None),
        ],
    )
    status = claims_tool.main([str(path), "--json"])
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(record) == {"chapter", "statement", "holds", "evidence"} for record in records)
    assert records[0] == {"chapter": "03", "statement": "held", "holds": True, "evidence": "x = 1, tolerance = 0.1"}
    assert records[1]["statement"] == "missing" and records[1]["holds"] is None
    assert status == 1  # a missing claim is not a held one


def test_table_mode_names_the_status_and_exits_zero_when_all_hold(tmp_path, capsys):
    path = _write(tmp_path, [_cell('claim("held", True, "e")', [_record("held", evidence="x = 1")])])
    assert claims_tool.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "03  held     held  [x = 1]" in out and "1 claims: 1 held, 0 FAILED, 0 missing" in out


def test_every_lecture_claim_in_the_stored_outputs_held():
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    bad = [c for path in lectures for c in claims_tool.notebook_claims(path) if c.holds is not True]
    assert not bad, "\n".join(f"{c.chapter} {c.status}: {c.statement}" for c in bad)
