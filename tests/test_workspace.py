"""`python -m superpose_lib workspace DIR`: copies the workbooks once and never overwrites a learner's file."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superpose_lib.workspace import create_workspace, workbooks_folder

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
    assert len(WORKBOOKS) == 11


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
    assert "kept 10 file(s)" in report.summary() and WORKBOOKS[0] in report.summary()


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
