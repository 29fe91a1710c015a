"""The workbook generator: blanks, determinism, its check mode, and that it writes only exercises/."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises  # noqa: E402

MASTER = '''import torch


def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION


check_double(double)'''


def _master():
    notebook = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python", "version": "3.11.7"},
        }
    )
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
        nbformat.v4.new_code_cell(
            MASTER, execution_count=3, outputs=[nbformat.v4.new_output("stream", name="stdout", text="hi")]
        ),
    ]
    return notebook


def test_solution_block_becomes_a_named_not_implemented_blank():
    source = make_exercises.workbook(_master(), "test").cells[1].source
    assert "2 * x" not in source and "SOLUTION" not in source
    assert '    raise NotImplementedError("double: not implemented yet")' in source
    assert '"""Twice x."""' in source and "check_double(double)" in source


def test_blank_workbook_raises_only_not_implemented_error():
    namespace = {"check_double": lambda fn: fn(1)}
    with pytest.raises(NotImplementedError, match="double: not implemented yet"):
        exec(make_exercises.workbook(_master(), "test").cells[1].source, namespace)


def test_markdown_answers_are_blanked_and_outputs_and_machine_metadata_dropped():
    workbook = make_exercises.workbook(_master(), "test")
    assert workbook.cells[0].source == "Why?\n*Your answer here.*"
    assert workbook.cells[1].outputs == [] and workbook.cells[1].execution_count is None
    assert "language_info" not in workbook.metadata


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_errors(source):
    with pytest.raises(make_exercises.MarkerError):
        make_exercises.blank_code(source, "cell")


def test_generation_is_deterministic():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        assert make_exercises.render(path) == make_exercises.render(path)


def _digests(folder: Path) -> dict:
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_regenerating_touches_only_exercises_and_check_mode_sees_staleness(tmp_path):
    for folder in ("tools", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    script = [sys.executable, str(tmp_path / "tools" / "make_exercises.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0

    workbook = next((tmp_path / "exercises").glob("00_*.ipynb"))
    workbook.write_text(workbook.read_text().replace("Exercise 1", "Exercise one"))
    (tmp_path / "notes.txt").write_text("a learner's file")
    before = {folder: _digests(tmp_path / folder) for folder in ("tools", "solutions")}

    stale = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and workbook.name in stale.stdout
    assert subprocess.run(script, capture_output=True).returncode == 0
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    assert {folder: _digests(tmp_path / folder) for folder in ("tools", "solutions")} == before
    assert (tmp_path / "notes.txt").read_text() == "a learner's file"
