"""The conventions every notebook of the course follows, so later chapters cannot drift."""

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course_links  # noqa: E402

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
WORKBOOKS = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
ALL = LECTURES + SOLUTIONS + WORKBOOKS
MACHINE_PATH = re.compile(r"(/(work|tmp|root|farm)/|/home/\w+|/Users/\w+|[A-Z]:\\\\Users|site-packages)")


def _id(path):
    return f"{path.parent.name}/{path.name}"


def _read(path):
    return nbformat.read(path, as_version=4)


def test_the_course_has_its_chapters_and_every_lecture_has_a_workbook():
    assert [p.name for p in LECTURES][:2] == ["00_start_here.ipynb", "01_rotational_invariance.ipynb"]
    assert [p.name for p in SOLUTIONS] == [p.name for p in WORKBOOKS]
    assert {p.name for p in SOLUTIONS} <= {p.name for p in LECTURES}


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_first_cell_is_the_canonical_setup_cell(path):
    first = _read(path).cells[0]
    assert first.cell_type == "code"
    assert first.source == course_links.setup_cell_source(course_links.settings())
    assert "setup" in first.metadata.get("tags", [])


def test_setup_cell_installs_in_colab_only_and_never_reinstalls_the_heavy_packages():
    source = course_links.setup_cell_source(course_links.settings())
    install = [line for line in source.splitlines() if "pip install" in line]
    assert len(install) == 1 and install[0].startswith("    ")  # inside the Colab branch
    assert 'if "google.colab" in sys.modules:' in source
    assert not re.search(r"\b(torch|numpy|matplotlib)\b", install[0])
    assert "--upgrade" not in install[0] and "-U " not in install[0] and "--force" not in install[0]
    assert "report_environment()" in source  # versions and device, everywhere


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_second_cell_is_a_parameters_cell_of_plain_literals(path):
    cell = _read(path).cells[1]
    assert cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, "only NAME = literal lines"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    assert values.get("FAST") is False and values.get("SEED") == 0


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_kernelspec_and_time_budget(path):
    notebook = _read(path)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["superpose"]["time_budget_s"] > 0


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_no_machine_paths_in_sources_or_outputs(path):
    text = path.read_text()
    assert not MACHINE_PATH.search(text), MACHINE_PATH.search(text).group(0)


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_is_stored_with_outputs_and_no_reprs_with_addresses(path):
    notebook = _read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "run `make outputs` to store outputs"
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), "outputs must come from one top-to-bottom run"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"stored error in cell {cell.id}"
            text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
            assert " at 0x" not in text, f"a repr with a memory address in cell {cell.id}: end the cell with plt.show()"


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_has_objectives_timed_sections_summary_and_next(path):
    markdown = "\n".join(cell.source for cell in _read(path).cells if cell.cell_type == "markdown")
    assert "**Learning objectives.**" in markdown and "**Time:**" in markdown
    assert "## Summary" in markdown and "## What's next" in markdown
    for heading in re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE):
        if heading not in ("Summary", "What's next"):
            assert re.search(r"\(~\d+ min\)$", heading), f"section '{heading}' needs a time estimate like (~5 min)"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_workbook_has_three_to_six_complete_exercises(path):
    cells = _read(path).cells
    headers = [
        i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and cell.source.startswith("## Exercise")
    ]
    assert 3 <= len(headers) <= 6
    for start, end in zip(headers, headers[1:] + [len(cells)]):
        header = cells[start].source
        assert "**Difficulty**" in header and "**Importance**" in header and re.search(r"⏱ \d+ min", header)
        assert "<details><summary>Hint" in header, "every exercise has layered hints"
        body = "\n".join(cell.source for cell in cells[start + 1 : end] if cell.cell_type == "code")
        assert "### BEGIN SOLUTION" in body and re.search(r"\bcheck_\w+\(", body)


@pytest.mark.parametrize("path", WORKBOOKS, ids=_id)
def test_workbook_is_stored_without_outputs_or_answers(path):
    notebook = _read(path)
    for cell in notebook.cells:
        assert "SOLUTION" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


LATEX_AFTER_BACKSLASH_N = re.compile(r"\\n(?:e|eq|otin|abla|u|ot|leq|geq|mid|parallel|exists|ewline)(?![a-z])")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_markdown_has_no_escaped_line_breaks(path):
    """A ``\\n`` typed into a markdown cell (an escape that should have been a line break) shows up literally."""
    stray = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            text = LATEX_AFTER_BACKSLASH_N.sub("", cell.source)
            stray += [text[max(0, i - 30) : i + 12] for i in (m.start() for m in re.finditer(r"\\n", text))]
    assert not stray, f"{path.name}: a literal \\n in markdown (a LaTeX command is fine): {stray}"
