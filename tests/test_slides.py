"""The slide rule of tools/slides.py: what it gives, that it is stable, and that it touches nothing else."""

import copy
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

LECTURES = slides.lectures()


def _handmade() -> nbformat.NotebookNode:
    """A small lecture with every case of the rule, and the slide type each cell should get."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        (code("import superpose_lib", metadata={"tags": ["setup", "nbval-ignore-output"]}), "skip"),
        (code("FAST = False\nSEED = 0", metadata={"tags": ["parameters"]}), "skip"),
        (md("# 99 · A chapter\n\n**Time:** about 5 minutes."), "slide"),
        (code("import torch"), "-"),  # stays with the title that introduces it
        (md("## A section (~3 min)\n\nSome words."), "slide"),
        (md("More words that continue the section."), "-"),
        (code("x = torch.ones(3)"), "-"),
        (code("print(x)"), "subslide"),  # a second code cell: its output gets its own screen
        (md("*Takeaway: ones.* What it means."), "subslide"),  # prose reading a result
        (md("*Takeaway: the last figure.*\n\n## Next section (~2 min)\n\nText."), "slide"),  # heading mid-cell
        (md("### A smaller question\n\nText."), "subslide"),
        (md("```python\n# not a heading, a comment in a fence\n```"), "-"),
        (code("y = 2", metadata={"tags": ["nbval-ignore-output"]}), "-"),
        (md("#hashtag is not a heading"), "subslide"),
        (md("## Summary\n\n- a point\n\n## What's next\n\nChapter 100."), "slide"),
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [cell for cell, _ in cells]
    notebook.metadata["expected"] = [want for _, want in cells]
    return notebook


def _write(notebook, path: Path) -> Path:
    nbformat.write(notebook, path)
    return path


def _without_slideshow(notebook: dict) -> dict:
    stripped = copy.deepcopy(notebook)
    for cell in stripped["cells"]:
        cell.get("metadata", {}).pop("slideshow", None)
    return stripped


def test_the_rule_on_a_handmade_notebook():
    notebook = _handmade()
    assert slides.slide_types(notebook.cells) == notebook.metadata["expected"]


def test_the_first_shown_cell_starts_a_slide_whatever_it_is():
    cells = [nbformat.v4.new_code_cell("1 + 1"), nbformat.v4.new_markdown_cell("text")]
    assert slides.slide_types(cells) == ["slide", "subslide"]


@pytest.mark.parametrize(
    ("markdown", "level"),
    [("# Title", 1), ("text\n## Section", 2), ("### Small", 3), ("plain text", None), ("```\n# code\n```", None)],
)
def test_highest_heading_ignores_fences_and_plain_text(markdown, level):
    assert slides.highest_heading(markdown) == level


def test_update_writes_the_rule_and_a_second_run_changes_nothing(tmp_path):
    path = _write(_handmade(), tmp_path / "99_handmade.ipynb")
    assert slides.stale_cells(path) > 0
    assert slides.update(path) == len(_handmade().cells)
    first = path.read_text(encoding="utf-8")
    written = json.loads(first)
    assert slides.current_types(written) == written["metadata"]["expected"]
    assert slides.update(path) == 0
    assert path.read_text(encoding="utf-8") == first
    assert slides.stale_cells(path) == 0


def test_check_names_the_notebook_that_differs_and_passes_once_it_is_fixed(tmp_path, capsys):
    path = _write(_handmade(), tmp_path / "99_handmade.ipynb")
    assert slides.main(["--check", str(path)]) == 1
    assert "99_handmade.ipynb" in capsys.readouterr().out
    assert slides.main([str(path)]) == 0
    assert slides.main(["--check", str(path)]) == 0


def test_a_hand_edited_slide_type_fails_the_check(tmp_path):
    path = tmp_path / LECTURES[0].name
    shutil.copy(LECTURES[0], path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["cells"][2]["metadata"]["slideshow"] = {"slide_type": "fragment"}
    path.write_text(slides.render(notebook), encoding="utf-8")
    assert slides.stale_cells(path) == 1


@pytest.mark.parametrize("path", LECTURES, ids=lambda path: path.name)
def test_every_lecture_follows_the_slide_rule(path):
    assert slides.stale_cells(path) == 0, f"run: make slides (or python tools/slides.py) for {path.name}"


@pytest.mark.parametrize("path", LECTURES, ids=lambda path: path.name)
def test_the_rule_changes_only_slideshow_metadata_and_keeps_nbformat_layout(tmp_path, path):
    committed = path.read_text(encoding="utf-8")
    bare = _without_slideshow(json.loads(committed))
    copy_path = tmp_path / path.name
    copy_path.write_text(slides.render(bare), encoding="utf-8")
    slides.update(copy_path)
    updated = copy_path.read_text(encoding="utf-8")
    assert _without_slideshow(json.loads(updated)) == bare  # sources, outputs, other metadata: untouched
    assert updated == committed  # and the committed lecture is exactly what the rule writes
    assert updated == nbformat.writes(nbformat.reads(updated, as_version=4)) + "\n"  # nbformat's own layout


def test_lectures_with_slide_metadata_are_valid_notebooks():
    for path in LECTURES:
        nbformat.validate(nbformat.read(path, as_version=4))


def test_html_export_hides_skipped_cells_and_keeps_the_rest(tmp_path):
    notebook = _handmade()
    notebook.cells[0].source = "SETUP_CELL_MARKER = 1"
    path = _write(notebook, tmp_path / "99_handmade.ipynb")
    slides.update(path)
    (html,) = slides.export_html([path], tmp_path / "slides")
    text = html.read_text(encoding="utf-8")
    assert html.name == "99_handmade.slides.html"
    assert "A smaller question" in text and "SETUP_CELL_MARKER" not in text
