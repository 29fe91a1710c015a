"""The README's time table: written by `make times` from a real run, one row per lecture, totals that add up."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import run_notebooks  # noqa: E402

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _block(text: str) -> str:
    return text.split(run_notebooks.README_START, 1)[1].split(run_notebooks.README_END, 1)[0]


def test_readme_has_a_measured_row_for_every_lecture_and_its_total():
    block = _block((ROOT / "README.md").read_text())
    rows = dict(re.findall(r"^\| (\d\d_\w+) \| ([\d.]+) \| \d+ \|$", block, flags=re.MULTILINE))
    assert sorted(rows) == [lecture.stem for lecture in LECTURES], "run `make times` after adding a chapter"
    total = float(re.search(r"\*\*total\*\* \| \*\*(\d+)\*\*", block).group(1))
    assert total == pytest.approx(sum(float(s) for s in rows.values()), abs=1)
    assert total < 600, "the whole course at full settings must stay under 10 minutes"
    assert re.search(r"Measured by `make times` on \d{4}-\d\d-\d\d: \d+ cores", block)


def test_write_readme_table_replaces_only_its_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{run_notebooks.README_START}\nold\n{run_notebooks.README_END}\nafter\n")
    runs = [
        run_notebooks.Run("notebooks/00_a.ipynb", "papermill", 1.26, 60),
        run_notebooks.Run("notebooks/01_b.ipynb", "papermill", 2.0, 60),
    ]
    run_notebooks.write_readme_table(runs, readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| 00_a | 1.3 | 60 |" in text and "| **total** | **3** | |" in text
