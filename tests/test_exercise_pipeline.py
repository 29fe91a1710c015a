"""The workbook generator: blanks, determinism, its check mode, and that it writes only exercises/."""

import errno
import hashlib
import json
import os
import re
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


def test_a_solutions_change_regenerates_cleanly_touching_only_exercises(tmp_path):
    """The maintainer's case, through the real command: edit a master, check sees it, regenerating fixes it."""
    for folder in ("tools", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    script = [sys.executable, str(tmp_path / "tools" / "make_exercises.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0

    master = next((tmp_path / "solutions").glob("00_*.ipynb"))
    master.write_text(master.read_text().replace("Exercise 1", "Exercise one"))
    workbook = tmp_path / "exercises" / master.name
    (tmp_path / "notes.txt").write_text("a learner's file")
    before = {folder: _digests(tmp_path / folder) for folder in ("tools", "solutions")}

    stale = subprocess.run([*script, "--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and workbook.name in stale.stdout and "run: make exercises" in stale.stdout
    regenerated = subprocess.run(script, capture_output=True, text=True)
    assert regenerated.returncode == 0 and "wrote 1 workbook(s)" in regenerated.stdout, regenerated.stderr
    assert "Exercise one" in workbook.read_text()
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    assert {folder: _digests(tmp_path / folder) for folder in ("tools", "solutions")} == before
    assert (tmp_path / "notes.txt").read_text() == "a learner's file"
    assert not list((tmp_path / "exercises").glob(".*"))  # no temporary file left behind


# --- a learner's edits are never overwritten ----------------------------------------------------------------

WORKBOOK = "00_start_here.ipynb"


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A copy of solutions/ and exercises/ that the generator, run in this process, works on."""
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(make_exercises, "ROOT", tmp_path)
    return tmp_path


def _generate(monkeypatch, capsys, *args):
    """Run the generator in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["make_exercises.py", *args])
    status = make_exercises.main()
    out, err = capsys.readouterr()
    return status, out, err


def _first_blank(notebook):
    return next(cell for cell in notebook.cells if "raise NotImplementedError(" in cell.source)


def _answer_a_blank(notebook):
    cell = _first_blank(notebook)
    lines = cell.source.splitlines()
    index = next(i for i, line in enumerate(lines) if "raise NotImplementedError(" in line)
    lines[index] = lines[index].split("raise")[0] + "return None  # my answer"
    cell.source = "\n".join(lines)


def _run_a_cell(notebook):
    cell = _first_blank(notebook)
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓ my output\n")]


def _count_only(notebook):
    _first_blank(notebook).execution_count = 7


def _add_a_cell(notebook):
    notebook.cells.append(nbformat.v4.new_markdown_cell("My notes."))


LEARNER_EDITS = {"an answer": _answer_a_blank, "outputs": _run_a_cell, "a count": _count_only, "a cell": _add_a_cell}


def _edit(path: Path, how) -> bytes:
    notebook = nbformat.read(path, as_version=4)
    how(notebook)
    nbformat.write(notebook, path)
    return path.read_bytes()


def _change_a_master(root: Path, name: str) -> None:
    master = root / "solutions" / name
    master.write_text(master.read_text().replace("Exercise 1", "Exercise one", 1))


@pytest.mark.parametrize("how", LEARNER_EDITS.values(), ids=LEARNER_EDITS.keys())
def test_a_workbook_with_a_learners_edit_is_never_overwritten_and_is_named(course, monkeypatch, capsys, how):
    _change_a_master(course, WORKBOOK)  # even when its master changed, so the generator has a reason to write
    _change_a_master(course, "01_rotational_invariance.ipynb")
    mine = _edit(course / "exercises" / WORKBOOK, how)

    status, out, err = _generate(monkeypatch, capsys)

    assert status == 1
    assert (course / "exercises" / WORKBOOK).read_bytes() == mine
    assert f"error: exercises/{WORKBOOK} was not overwritten" in err and "Traceback" not in err
    assert f"mv exercises/{WORKBOOK} workspace/" in err and f"git checkout -- exercises/{WORKBOOK}" in err
    assert "wrote 1 workbook(s)" in out  # the untouched stale workbook was regenerated all the same
    assert "Exercise one" in (course / "exercises" / "01_rotational_invariance.ipynb").read_text()


def test_a_file_that_is_no_notebook_any_more_is_kept(course, monkeypatch, capsys):
    (course / "exercises" / WORKBOOK).write_text("my answers, pasted over the notebook")
    status, _, err = _generate(monkeypatch, capsys)
    assert status == 1 and f"exercises/{WORKBOOK} was not overwritten" in err
    assert (course / "exercises" / WORKBOOK).read_text() == "my answers, pasted over the notebook"


def test_moving_the_edited_workbook_away_lets_the_generator_run_through(course, monkeypatch, capsys):
    mine = _edit(course / "exercises" / WORKBOOK, _answer_a_blank)
    assert _generate(monkeypatch, capsys)[0] == 1
    (course / "workspace").mkdir()
    (course / "exercises" / WORKBOOK).rename(course / "workspace" / "00_start_here-mine.ipynb")  # as told
    status, out, _ = _generate(monkeypatch, capsys)
    assert status == 0 and "wrote 1 workbook(s)" in out
    assert (course / "workspace" / "00_start_here-mine.ipynb").read_bytes() == mine
    assert _generate(monkeypatch, capsys, "--check")[0] == 0


def test_the_learners_make_test_says_what_is_wrong_instead_of_a_bare_difference(course, monkeypatch, capsys):
    mine = _edit(course / "exercises" / WORKBOOK, _answer_a_blank)
    status, out, _ = _generate(monkeypatch, capsys, "--check")
    assert status == 1
    assert f"exercises/{WORKBOOK} holds changes the generator did not make" in out
    assert "make lab" in out and f"mv exercises/{WORKBOOK} workspace/" in out
    assert "run: make exercises" not in out  # regenerating would not help; moving the work would
    assert (course / "exercises" / WORKBOOK).read_bytes() == mine


def test_a_workbook_the_generator_wrote_from_older_solutions_is_replaced(course, monkeypatch, capsys):
    """Its content still matches the digest it carries: the difference is the generator's own doing."""
    _change_a_master(course, WORKBOOK)
    status, out, _ = _generate(monkeypatch, capsys)
    assert status == 0 and "wrote 1 workbook(s)" in out
    assert "Exercise one" in (course / "exercises" / WORKBOOK).read_text()


def test_a_merged_workbook_with_the_new_content_and_an_old_digest_is_replaced(course, monkeypatch, capsys):
    """After a merge, the cells can be the new ones while the digest is an old one: nothing of a learner's."""
    path = course / "exercises" / WORKBOOK
    old_digest = nbformat.read(path, as_version=4).metadata["superpose"][make_exercises.DIGEST_KEY]
    _change_a_master(course, WORKBOOK)
    merged = nbformat.reads(make_exercises.render(course / "solutions" / WORKBOOK), as_version=4)
    merged.metadata["superpose"][make_exercises.DIGEST_KEY] = old_digest
    nbformat.write(merged, path)
    assert make_exercises.workbook_state(path, make_exercises.render(course / "solutions" / WORKBOOK)) == "stale"
    assert _generate(monkeypatch, capsys)[0] == 0
    assert _generate(monkeypatch, capsys, "--check")[0] == 0


def test_a_workbook_only_saved_again_in_another_layout_is_not_an_edit(course, monkeypatch, capsys):
    path = course / "exercises" / WORKBOOK
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2, sort_keys=False))
    assert make_exercises.workbook_state(path, make_exercises.render(course / "solutions" / WORKBOOK)) == "stale"
    assert _generate(monkeypatch, capsys)[0] == 0


def test_a_workbook_that_cannot_be_written_is_named_and_left_whole(course, monkeypatch, capsys):
    _change_a_master(course, WORKBOOK)
    before = (course / "exercises" / WORKBOOK).read_bytes()

    def full_disk(path, data, *, overwrite):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(make_exercises, "write_atomically", full_disk)
    status, out, err = _generate(monkeypatch, capsys)
    assert status == 1 and "wrote 0 workbook(s)" in out
    assert f"error: could not write exercises/{WORKBOOK} (no space left on device)" in err
    assert (course / "exercises" / WORKBOOK).read_bytes() == before


def test_every_committed_workbook_carries_the_digest_of_its_own_content():
    for path in sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["superpose"][make_exercises.DIGEST_KEY] == make_exercises.content_digest(notebook)


def test_following_the_advice_twice_never_overwrites_the_copy_saved_the_first_time(course, monkeypatch, capsys):
    """The command the generator suggests must not clobber what the same command saved before."""
    saved = []
    for how in (_answer_a_blank, _add_a_cell):
        mine = _edit(course / "exercises" / WORKBOOK, how)
        status, _, err = _generate(monkeypatch, capsys)
        assert status == 1
        command = re.search(r"`(mkdir -p workspace && mv [^`]+)`", err).group(1)
        subprocess.run(["bash", "-c", command], cwd=course, check=True)
        saved.append(mine)
        assert _generate(monkeypatch, capsys)[0] == 0  # the generator restored the workbook
    kept = sorted((course / "workspace").glob("*.ipynb"))
    assert len(kept) == 2 and sorted(path.read_bytes() for path in kept) == sorted(saved)


def test_a_save_between_the_generators_look_and_its_write_is_kept(course, monkeypatch, capsys):
    """JupyterLab autosaves an open workbook while `make exercises` runs: the save lands after the generator
    judged the file stale (its own doing) and before it writes. The learner's save must win."""
    _change_a_master(course, WORKBOOK)
    path = course / "exercises" / WORKBOOK
    judge, saved = make_exercises.workbook_state, []

    def judged_then_saved(where, expected):
        state = judge(where, expected)
        if where.name == WORKBOOK and not saved:
            saved.append(_edit(path, _answer_a_blank))  # the autosave, right after the first look
        return state

    monkeypatch.setattr(make_exercises, "workbook_state", judged_then_saved)
    status, out, err = _generate(monkeypatch, capsys)
    assert path.read_bytes() == saved[0]
    assert status == 1 and f"error: exercises/{WORKBOOK} was not overwritten" in err
    others = len(list((course / "solutions").glob("*.ipynb"))) - 1  # every workbook but the one saved
    assert f"wrote 0 workbook(s); {others} already up to date" in out


def test_a_duplicated_workbook_in_exercises_gets_advice_that_works(course, monkeypatch, capsys):
    """JupyterLab's Duplicate makes exercises/00_start_here-Copy1.ipynb: --check (so `make test`) names it, and
    following its advice makes the check pass; `make exercises` cannot, so it is not what the check suggests."""
    copy = course / "exercises" / "00_start_here-Copy1.ipynb"
    mine = _edit(course / "exercises" / WORKBOOK, _answer_a_blank)
    (course / "exercises" / WORKBOOK).rename(copy)
    assert _generate(monkeypatch, capsys)[0] == 0 and copy.read_bytes() == mine  # left in place

    status, out, _ = _generate(monkeypatch, capsys, "--check")
    assert status == 1 and "exercises/00_start_here-Copy1.ipynb has no master in solutions/" in out
    assert "run: make exercises" not in out
    command = re.search(r"`(mkdir -p workspace && mv [^`]+)`", out).group(1)
    subprocess.run(["bash", "-c", command], cwd=course, check=True)
    assert _generate(monkeypatch, capsys, "--check")[0] == 0
    assert [path.read_bytes() for path in (course / "workspace").iterdir()] == [mine]
