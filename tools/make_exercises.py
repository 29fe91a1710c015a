"""Build the learner workbooks in exercises/ from the masters in solutions/.

In a code cell, the lines between `### BEGIN SOLUTION` and `### END SOLUTION` become a blank that raises
NotImplementedError (so running a fresh workbook meets only the blanks); in a markdown cell, the text between
`<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->` becomes "*Your answer here.*". Outputs, execution
counts and machine-specific metadata are dropped. The result is deterministic, and only exercises/ is written.

    python tools/make_exercises.py           # write exercises/NN_*.ipynb
    python tools/make_exercises.py --check   # exit 1 if exercises/ differs from what would be written
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
KEPT_METADATA = ("kernelspec", "superpose")


class MarkerError(ValueError):
    pass


def blank_code(source: str, where: str) -> str:
    """Replace each solution block of a code cell with a NotImplementedError blank."""
    out, inside, function = [], False, None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        match = re.match(r"\s*def (\w+)\(", line)
        if match and not inside:
            function = match.group(1)
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution block")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            label = function or "this exercise"
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("{label}: not implemented yet")')
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def blank_markdown(source: str, where: str) -> str:
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), flags=re.DOTALL)
    blanked = pattern.sub("*Your answer here.*", source)
    if MD_BEGIN in blanked or MD_END in blanked:
        raise MarkerError(f"{where}: unbalanced {MD_BEGIN} / {MD_END}")
    return blanked


def workbook(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The learner's workbook for one master notebook."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {key: solution.metadata[key] for key in KEPT_METADATA if key in solution.metadata}
    for index, cell in enumerate(solution.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(blank_code(cell.source, where))
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(blank_markdown(cell.source, where))
        else:
            new = nbformat.v4.new_raw_cell(cell.source)
        new.id = cell.get("id", f"cell-{index}")
        if cell.metadata.get("tags"):
            new.metadata["tags"] = list(cell.metadata["tags"])
        notebook.cells.append(new)
    return notebook


def render(path: Path) -> str:
    return nbformat.writes(workbook(nbformat.read(path, as_version=4), path.name)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when exercises/ is stale")
    args = parser.parse_args()
    masters = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    target = ROOT / "exercises"
    expected = {path.name: render(path) for path in masters}
    stale = [
        name for name, text in expected.items() if not (target / name).exists() or (target / name).read_text() != text
    ]
    orphans = sorted(p.name for p in target.glob("[0-9][0-9]_*.ipynb") if p.name not in expected)
    if args.check:
        for name in stale:
            print(f"exercises/{name} differs from what solutions/{name} generates")
        for name in orphans:
            print(f"exercises/{name} has no master in solutions/")
        if stale or orphans:
            print("run: make exercises")
            return 1
        print(f"exercises/ matches solutions/ ({len(expected)} workbooks)")
        return 0
    target.mkdir(exist_ok=True)
    for name in stale:
        (target / name).write_text(expected[name])
    for name in orphans:
        print(f"note: exercises/{name} has no master in solutions/ (left in place)")
    print(f"wrote {len(stale)} workbook(s); {len(expected) - len(stale)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
