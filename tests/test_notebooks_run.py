"""Every workbook runs: solutions end to end with papermill (FAST=True), and a fresh workbook top to
bottom meeting only its blanks (NotImplementedError), never a NameError or any other error.

The lecture notebooks are checked by nbval (`make test` runs pytest with --nbval on notebooks/). Each run's
seconds are reported against the notebook's time budget at the end of the session (see conftest.py)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

FAST = {"FAST": True, "SEED": 0}
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
WORKBOOKS = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_runs_end_to_end(path, tmp_path, notebook_runs):
    run = run_notebooks.run_papermill(path, tmp_path / path.name, FAST)
    notebook_runs.append(run)


@pytest.mark.parametrize("path", WORKBOOKS, ids=lambda p: p.name)
def test_fresh_workbook_meets_only_its_blanks(path, notebook_runs):
    run, executed = run_notebooks.run_with_blanks(path, FAST)
    notebook_runs.append(run)
    errors = run_notebooks.errors_in(executed)
    assert errors, "a fresh workbook should stop at its blanks"
    assert {name for _, name in errors} == {"NotImplementedError"}
    # Every exercise's check reports the untouched blank, and the demo cells still ran on the references.
    text = "".join(
        output.get("text", "") + output.get("evalue", "")
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    assert text.count("not implemented yet") == len(errors)
    assert "using the library's reference" in text
