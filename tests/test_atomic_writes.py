"""Every tool that rewrites a course file in place (`make badges`, `make outputs`, `make times`) writes it
atomically: a run cut short (a full disk, a killed process) leaves each file whole, old or new, never truncated.

A lecture notebook is where `make lab` opens, so a learner's notes can be in one; a truncated notebook would
lose them. The runs below are real subprocesses whose files may grow to only a few KiB (RLIMIT_FSIZE: past it a
write fails as on a full disk), so the test sees exactly what an interrupted write leaves on disk.
"""

import json
import re
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 4096  # bytes: smaller than any lecture notebook, larger than the Python the runs need to start


def _small_files_only():
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-B", *args], cwd=cwd, capture_output=True, text=True, preexec_fn=_small_files_only
    )


def _whole(path: Path) -> None:
    assert path.stat().st_size > LIMIT, f"{path.name} was cut short"
    json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    for folder in ("tools", "notebooks", "solutions"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def test_course_links_cut_short_leaves_every_notebook_and_the_readme_whole(course):
    pyproject = re.sub(r'repository = "[^"]*"', 'repository = "someone/else"', (ROOT / "pyproject.toml").read_text())
    (course / "pyproject.toml").write_text(pyproject)  # every setup cell and badge is now out of date
    before = {path: path.read_bytes() for path in [*course.glob("*/[0-9][0-9]_*.ipynb"), course / "README.md"]}

    result = _run([str(course / "tools" / "course_links.py")], cwd=course)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "error: could not write" in result.stderr
    for path, data in before.items():
        _whole(path) if path.suffix == ".ipynb" else None
        assert path.read_bytes() == data, f"{path.name} changed although nothing could be written"
    assert not list(course.rglob(".*.partial"))


def test_make_outputs_cut_short_leaves_the_lecture_whole(course):
    lecture = course / "notebooks" / "01_rotational_invariance.ipynb"
    before = lecture.read_bytes()
    script = textwrap.dedent(
        f"""
        import sys, types
        sys.path.insert(0, {str(course / "tools")!r})

        class NotebookClient:  # stands in for a kernel: the "execution" adds an output
            def __init__(self, notebook, **kwargs):
                self.notebook = notebook

            def execute(self):
                self.notebook.cells[-1].setdefault("outputs", []).append(
                    {{"output_type": "stream", "name": "stdout", "text": "x" * 100000}}
                )

        sys.modules["nbclient"] = types.SimpleNamespace(NotebookClient=NotebookClient)
        import run_notebooks

        try:
            run_notebooks.refresh_outputs(run_notebooks.Path({str(lecture)!r}))
        except OSError as error:
            sys.exit(f"error: {{error}}")
        """
    )
    result = _run(["-c", script], cwd=course)
    assert result.returncode != 0, result.stdout
    _whole(lecture)
    assert lecture.read_bytes() == before
    assert not list(course.rglob(".*.partial"))


def test_slides_cut_short_leaves_the_lecture_whole(course):
    lecture = course / "notebooks" / "01_rotational_invariance.ipynb"
    notebook = nbformat.read(lecture, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("slideshow", None)  # so the rule has something to write
    nbformat.write(notebook, lecture)
    before = lecture.read_bytes()

    result = _run([str(course / "tools" / "slides.py"), str(lecture)], cwd=course)

    assert result.returncode != 0
    _whole(lecture)
    assert lecture.read_bytes() == before


def test_make_outputs_never_overwrites_a_save_made_while_the_lecture_ran(course):
    """A lecture runs for minutes; a learner who saves it in JupyterLab meanwhile keeps that save."""
    lecture = course / "notebooks" / "01_rotational_invariance.ipynb"
    script = textwrap.dedent(
        f"""
        import sys, types
        from pathlib import Path
        sys.path.insert(0, {str(course / "tools")!r})
        lecture = Path({str(lecture)!r})

        class NotebookClient:  # the kernel runs; meanwhile the learner saves a note into the lecture
            def __init__(self, notebook, **kwargs):
                self.notebook = notebook

            def execute(self):
                lecture.write_text(lecture.read_text().replace('"cells": [', '"cells": [{{"cell_type": "markdown", '
                    '"id": "mine", "metadata": {{}}, "source": "my note"}},', 1))

        sys.modules["nbclient"] = types.SimpleNamespace(NotebookClient=NotebookClient)
        import run_notebooks

        run_notebooks.refresh_outputs(lecture)
        """
    )
    result = subprocess.run([sys.executable, "-B", "-c", script], cwd=course, capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "changed while it ran" in result.stderr and lecture.name in result.stderr
    assert nbformat.read(lecture, as_version=4).cells[0].source == "my note"
