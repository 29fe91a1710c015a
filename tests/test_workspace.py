"""`python -m superpose_lib workspace DIR`: copies the workbooks once and never overwrites a learner's file."""

import errno
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superpose_lib import workspace
from superpose_lib.__main__ import main
from superpose_lib.workspace import create_workspace, workbooks_folder, write_atomically

ROOT = Path(__file__).resolve().parents[1]
WORKBOOKS = sorted(p.name for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def _snapshot(folder: Path) -> dict:
    """Every entry under `folder` with its bytes (files), its target (links) or None (folders)."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            entries[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif path.is_dir():
            entries[str(path.relative_to(folder))] = ("dir", None)
        else:
            entries[str(path.relative_to(folder))] = ("file", path.read_bytes(), path.stat().st_mtime_ns)
    return entries


def test_a_checkout_copies_from_its_exercises_folder():
    assert workbooks_folder() == ROOT / "exercises"
    assert len(WORKBOOKS) == len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))


def test_first_run_copies_every_workbook_byte_for_byte(tmp_path):
    report = create_workspace(tmp_path / "mine" / "superpose")
    assert report.copied == WORKBOOKS and report.kept == []
    for name in WORKBOOKS:
        assert (tmp_path / "mine" / "superpose" / name).read_bytes() == (ROOT / "exercises" / name).read_bytes()


def test_second_run_keeps_the_learners_work_and_restores_only_what_is_missing(tmp_path):
    create_workspace(tmp_path)
    edited = tmp_path / WORKBOOKS[0]
    edited.write_text("my answers")
    (tmp_path / WORKBOOKS[1]).unlink()
    (tmp_path / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)

    report = create_workspace(tmp_path)

    assert report.copied == [WORKBOOKS[1]]
    assert WORKBOOKS[0] in report.kept and len(report.kept) == len(WORKBOOKS) - 1
    after = _snapshot(tmp_path)
    for name, entry in before.items():
        assert after[name] == entry, f"{name} changed"
    assert edited.read_text() == "my answers"
    assert f"kept {len(WORKBOOKS) - 1} file(s)" in report.summary() and WORKBOOKS[0] in report.summary()


def test_links_and_folders_in_the_way_are_kept_and_never_followed(tmp_path):
    outside = tmp_path / "outside.ipynb"
    outside.write_text("not to be touched")
    work = tmp_path / "work"
    work.mkdir()
    (work / WORKBOOKS[0]).symlink_to(outside)
    (work / WORKBOOKS[1]).symlink_to(tmp_path / "missing-target.ipynb")  # a dangling link
    (work / WORKBOOKS[2]).mkdir()
    report = create_workspace(work)
    assert set(report.kept) == set(WORKBOOKS[:3])
    assert outside.read_text() == "not to be touched"
    assert not (tmp_path / "missing-target.ipynb").exists()
    assert (work / WORKBOOKS[2]).is_dir()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(existing=st.dictionaries(st.sampled_from(WORKBOOKS), st.binary(max_size=64), max_size=len(WORKBOOKS)))
def test_whatever_is_there_survives_and_everything_else_arrives(tmp_path_factory, existing):
    work = tmp_path_factory.mktemp("work")
    for name, content in existing.items():
        (work / name).write_bytes(content)
    report = create_workspace(work)
    assert sorted(report.kept) == sorted(existing)
    assert sorted(report.copied + report.kept) == WORKBOOKS
    for name in WORKBOOKS:
        expected = existing[name] if name in existing else (ROOT / "exercises" / name).read_bytes()
        assert (work / name).read_bytes() == expected


def test_bad_directories_get_a_clear_error(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="directory must be a folder"):
        create_workspace(a_file)
    with pytest.raises(ValueError, match="directory must name a folder"):
        create_workspace("")
    with pytest.raises(ValueError, match="copied from"):
        create_workspace(ROOT / "exercises")


def test_command_line_reports_copied_and_kept(tmp_path):
    command = [sys.executable, "-m", "superpose_lib", "workspace", str(tmp_path / "ws")]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"copied {len(WORKBOOKS)} workbook(s)" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"kept {len(WORKBOOKS)} file(s)" in second.stdout and "copied" not in second.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "superpose_lib", "workspace", str(tmp_path / "ws" / WORKBOOKS[0])],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "directory must be a folder" in bad.stderr


def test_the_wheel_ships_the_workbooks(tmp_path):
    """A pip (or Colab) install has no exercises/ folder: the workbooks travel inside the package."""
    source = tmp_path / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    for folder in ("superpose_lib", "exercises"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("superpose-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in WORKBOOKS:
        assert f"superpose_lib/workbooks/{name}" in names


# --- every failure of the command: one line, a non-zero exit, nothing half-written ----------------------------


def _run(argv, capsys):
    """The command run in this process: (exit status, stdout, stderr)."""
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def _full_disk_after(monkeypatch, n_whole: int):
    """Make the disk "full" after `n_whole` workbooks: later writes get half their bytes out, then ENOSPC."""
    real_fdopen, opened = os.fdopen, []

    class HalfThenFull:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(descriptor, *args, **kwargs):
        opened.append(descriptor)
        file = real_fdopen(descriptor, *args, **kwargs)
        return file if len(opened) <= n_whole else HalfThenFull(file)

    monkeypatch.setattr(workspace.os, "fdopen", fdopen)


def test_a_full_disk_leaves_whole_workbooks_or_none_and_names_the_missing(tmp_path, monkeypatch, capsys):
    work = tmp_path / "ws"
    _full_disk_after(monkeypatch, n_whole=3)
    status, out, err = _run(["workspace", str(work)], capsys)

    assert status == 1
    line = _one_line_error(err)
    assert "no space left on device" in line and all(name in line for name in WORKBOOKS[3:])
    assert "copied 3 workbook(s)" in out
    assert sorted(p.name for p in work.iterdir()) == WORKBOOKS[:3]  # no truncated workbook, no temporary file
    for name in WORKBOOKS[:3]:
        assert (work / name).read_bytes() == (ROOT / "exercises" / name).read_bytes()

    monkeypatch.undo()  # space freed: the next run brings the rest, and none of them is "kept" half-written
    report = create_workspace(work)
    assert report.copied == WORKBOOKS[3:] and report.kept == WORKBOOKS[:3] and not report.failed
    for name in WORKBOOKS:
        assert (work / name).read_bytes() == (ROOT / "exercises" / name).read_bytes()


def test_write_atomically_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "a.ipynb"
    target.write_bytes(b"the old, whole file")
    _full_disk_after(monkeypatch, n_whole=0)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"x" * 10_000, overwrite=True)
    assert target.read_bytes() == b"the old, whole file"
    assert [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]


def test_write_atomically_never_replaces_unless_told(tmp_path):
    target = tmp_path / "a.ipynb"
    assert write_atomically(target, b"first", overwrite=False) is True
    assert write_atomically(target, b"second", overwrite=False) is False
    assert target.read_bytes() == b"first"
    assert write_atomically(target, b"third", overwrite=True) is True
    assert target.read_bytes() == b"third"
    assert [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]


def test_a_read_only_folder_is_one_error_line_naming_the_workbooks_and_exit_1(tmp_path, monkeypatch, capsys):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(workspace.tempfile, "mkstemp", refused)  # what a read-only folder does, even as root
    status, out, err = _run(["workspace", str(tmp_path / "ws")], capsys)
    assert status == 1
    line = _one_line_error(err)
    assert "permission denied" in line and f"could not write {len(WORKBOOKS)} workbook(s)" in line
    assert all(name in line for name in WORKBOOKS)
    assert list((tmp_path / "ws").iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_folder_exits_1(tmp_path, capsys):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws").chmod(0o555)
    try:
        status, _, err = _run(["workspace", str(tmp_path / "ws")], capsys)
    finally:
        (tmp_path / "ws").chmod(0o755)
    assert status == 1 and "permission denied" in _one_line_error(err)


def test_a_folder_that_cannot_be_made_is_one_error_line_and_exit_1(tmp_path, monkeypatch, capsys):
    def refused(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", refused)  # a read-only parent folder
    status, _, err = _run(["workspace", str(tmp_path / "new" / "ws")], capsys)
    assert status == 1
    assert f"cannot create the folder {tmp_path / 'new' / 'ws'}: permission denied" in _one_line_error(err)


def test_a_folder_below_a_file_is_refused_before_anything_is_made(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    status, _, err = _run(["workspace", str(tmp_path / "notes.txt" / "sub" / "ws")], capsys)
    assert status == 2
    line = _one_line_error(err)
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in line
    assert (tmp_path / "notes.txt").read_text() == "mine" and sorted(tmp_path.iterdir()) == [tmp_path / "notes.txt"]


def test_a_quoted_tilde_means_the_home_folder(tmp_path, monkeypatch, capsys):
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    status, out, _ = _run(["workspace", "~/my-superpose"], capsys)
    assert status == 0 and f"workspace: {home / 'my-superpose'}" in out
    assert sorted(p.name for p in (home / "my-superpose").iterdir()) == WORKBOOKS
    assert list(elsewhere.iterdir()) == []  # no folder named "~"


def test_a_tilde_that_names_no_home_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(["workspace", "~no-such-user-of-superpose/ws"], capsys)
    assert status == 2 and "cannot expand '~'" in _one_line_error(err)
    assert list(tmp_path.iterdir()) == []


def test_missing_workbooks_are_one_error_line(monkeypatch, capsys):
    monkeypatch.setattr(workspace, "_PACKAGE", Path("/nonexistent/superpose_lib"))
    status, _, err = _run(["workspace", "anywhere"], capsys)
    assert status == 1 and "the course workbooks were not found" in _one_line_error(err)


def test_a_leftover_temporary_file_is_not_a_workbook(tmp_path):
    (tmp_path / f".{WORKBOOKS[0]}.abc123.partial").write_bytes(b"half a workb")  # from a killed run
    report = create_workspace(tmp_path)
    assert report.copied == WORKBOOKS


# --- the learner's path leads to the workspace -------------------------------------------------------------


def test_make_lab_goes_through_the_workspace_which_git_ignores():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: workspace\b", makefile, flags=re.MULTILINE)
    assert re.search(r"^WORKSPACE := \$\(or \$\(DIR\),workspace\)$", makefile, flags=re.MULTILINE)
    assert '-m superpose_lib workspace "$(WORKSPACE)"' in makefile
    assert "workspace/" in (ROOT / ".gitignore").read_text().splitlines()


def test_lecture_00_sends_the_learner_to_the_workspace_not_to_exercises():
    lecture = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in lecture.cells if cell.cell_type == "markdown")
    assert "workspace/00_start_here.ipynb" in text and "Save a copy in Drive" in text
    assert "Open the workbook `exercises/" not in text


def test_a_broken_course_copy_never_blocks_a_workspace_that_already_has_that_workbook(tmp_path):
    """exercises/NN replaced by a folder (or a dangling link) in a checkout: the learner's own copy is kept and
    `make lab` still starts; only a workspace that lacks the workbook reports it, naming the source as the cause."""
    source = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", source)
    broken = source / WORKBOOKS[0]
    broken.unlink()
    broken.mkdir()
    (source / WORKBOOKS[1]).unlink()
    (source / WORKBOOKS[1]).symlink_to(tmp_path / "nowhere.ipynb")
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in WORKBOOKS[:2]:
        (mine / name).write_text(f"my answers in {name}")

    report = create_workspace(mine, source)
    assert not report.failed and report.kept == WORKBOOKS[:2] and report.copied == WORKBOOKS[2:]
    assert (mine / WORKBOOKS[0]).read_text() == f"my answers in {WORKBOOKS[0]}"

    fresh = create_workspace(tmp_path / "fresh", source)
    assert sorted(fresh.failed) == WORKBOOKS[:2] and fresh.copied == WORKBOOKS[2:]
    assert all("cannot read" in line and str(source) in line for line in fresh.errors())


@pytest.mark.parametrize("inside", ["build", "build/my work", ".pytest_cache/ws", ".ruff_cache"])
def test_a_folder_that_make_clean_deletes_is_refused(tmp_path, capsys, inside):
    """`make clean` runs `rm -rf build .pytest_cache .ruff_cache`: a workspace there would be deleted with it."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", course / "exercises")
    shutil.copy(ROOT / "Makefile", course / "Makefile")
    with pytest.raises(ValueError, match="make clean"):
        create_workspace(course / inside, course / "exercises")
    assert sorted(p.name for p in course.iterdir()) == ["Makefile", "exercises"]  # nothing made
    assert create_workspace(course / "workspace", course / "exercises").copied == WORKBOOKS


def test_a_file_system_that_refuses_chmod_still_gets_the_workbooks(tmp_path, monkeypatch):
    """FAT drives (a USB stick) and some network shares refuse chmod with EPERM; the copy itself is fine there."""

    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(workspace.os, "chmod", refused)
    report = create_workspace(tmp_path / "usb")
    assert report.copied == WORKBOOKS and not report.failed
    assert sorted(p.name for p in (tmp_path / "usb").iterdir()) == WORKBOOKS
