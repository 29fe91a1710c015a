"""Build the learner workbooks in exercises/ from the masters in solutions/.

In a code cell, the lines between `### BEGIN SOLUTION` and `### END SOLUTION` become a blank that raises
NotImplementedError (so running a fresh workbook meets only the blanks); in a markdown cell, the text between
`<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->` becomes "*Your answer here.*". Outputs, execution
counts and machine-specific metadata are dropped. The result is deterministic, and only exercises/ is written.

    python tools/make_exercises.py           # write exercises/NN_*.ipynb
    python tools/make_exercises.py --check   # exit 1 if exercises/ differs from what would be written

A learner's edits are never overwritten. Each workbook records, in `metadata.superpose.generated_sha256`, the
SHA-256 of its own content as written (cells, outputs, execution counts, metadata; the digest itself left
out). A workbook that differs from what would be written now is replaced only when the difference is the
generator's own doing: its content still matches the digest it carries (written from older solutions), or it
has the same content as the new workbook (only the digest or the layout of the file differs, as after a merge).
Anything else (an answer in a blank, outputs, execution counts, a new cell, a file that is no notebook) is left
exactly as it is: the run names the file, says how to keep or drop the changes, and exits 1. It stops rather
than keep a timestamped copy beside the file because exercises/ ships in the wheel, is copied into workspaces
and is checked file by file: a learner's copy there would travel with the course and fail the check. Every
write is atomic (a temporary file in exercises/, then a rename), and a file that cannot be written is named,
exit 1.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import sys
from pathlib import Path

import nbformat

from superpose_lib.workspace import describe, write_atomically

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
KEPT_METADATA = ("kernelspec", "superpose")
DIGEST_KEY = "generated_sha256"  # in metadata.superpose: the workbook's content digest as the generator wrote it


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


def content_digest(notebook: nbformat.NotebookNode) -> str:
    """SHA-256 of a notebook's content (as `nbformat.reads` gives it), leaving out the recorded digest itself.

    Canonical JSON (sorted keys), so the layout of the file (indentation, key order, how sources are split
    into lines) does not count; everything a learner can change does: sources, outputs, execution counts, cells
    added or removed, metadata.
    """
    data = json.loads(json.dumps(notebook))
    course = data.get("metadata", {}).get("superpose")
    if isinstance(course, dict):
        course.pop(DIGEST_KEY, None)
        if not course:
            del data["metadata"]["superpose"]
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def render(path: Path) -> str:
    """The text of the workbook for the master `path`, with its content digest recorded in its metadata."""
    notebook = workbook(nbformat.read(path, as_version=4), path.name)
    digest = content_digest(nbformat.reads(nbformat.writes(notebook), as_version=4))
    notebook.metadata["superpose"] = {**notebook.metadata.get("superpose", {}), DIGEST_KEY: digest}
    return nbformat.writes(notebook) + "\n"


def workbook_state(path: Path, expected: str) -> str:
    """How the file `path` stands against the text `expected` the generator would write there now.

    "missing" (no entry of that name), "current" (the same text), "stale" (a difference of the generator's own
    doing, safe to replace: the content matches the digest it carries, or matches `expected` but for the
    digest and layout) or "edited" (anything else, including a folder, a link or a file that is no notebook).
    """
    if not path.exists() and not path.is_symlink():
        return "missing"
    if path.is_symlink() or not path.is_file():
        return "edited"
    try:
        text = path.read_text(encoding="utf-8")
        if text == expected:
            return "current"
        existing = nbformat.reads(text, as_version=4)
        digest = content_digest(existing)
        recorded = existing.metadata.get("superpose", {}).get(DIGEST_KEY)
    except Exception:  # unreadable, not JSON, not a notebook: not the generator's
        return "edited"
    if digest == recorded or digest == content_digest(nbformat.reads(expected, as_version=4)):
        return "stale"
    return "edited"


def free_name(folder: Path, stem: str) -> str:
    """`STEM-mine.ipynb`, or `STEM-mine-2.ipynb`, ...: the first name that nothing in `folder` has yet."""
    candidates = (f"{stem}-mine{'' if number == 1 else f'-{number}'}.ipynb" for number in itertools.count(1))
    return next(name for name in candidates if not os.path.lexists(folder / name))


def keep_or_drop(names: list[str]) -> str:
    """What a learner whose edits stopped the generator can do, with a command for the first file.

    The suggested name is one the workspace does not have yet, so following the advice again (after a second
    round of edits in exercises/) never replaces the copy the first round saved.
    """
    first = names[0]
    mine = free_name(ROOT / "workspace", first[: -len(".ipynb")])
    return (
        "Your changes are kept as they are. exercises/ holds the course's generated workbooks; do your own work in a\n"
        "workspace (`make lab` or `make workspace` copies the workbooks into workspace/). To keep these changes,\n"
        f"move the file there, e.g. `mkdir -p workspace && mv exercises/{first} workspace/{mine}`;\n"
        f"to drop them, `git checkout -- exercises/{first}`. Then run this again."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when exercises/ is stale")
    args = parser.parse_args()
    masters = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    target = ROOT / "exercises"
    expected = {path.name: render(path) for path in masters}
    states = {name: workbook_state(target / name, text) for name, text in expected.items()}
    edited = [name for name, state in states.items() if state == "edited"]
    stale = [name for name, state in states.items() if state in ("missing", "stale")]
    orphans = sorted(p.name for p in target.glob("[0-9][0-9]_*.ipynb") if p.name not in expected)
    if args.check:
        for name in stale:
            print(f"exercises/{name} differs from what solutions/{name} generates")
        for name in edited:
            print(
                f"exercises/{name} holds changes the generator did not make (answers, outputs or new cells), "
                f"so it cannot match what solutions/{name} generates"
            )
        for name in orphans:  # a learner's copy (JupyterLab's Duplicate, a rename) or a chapter that left
            mine = free_name(ROOT / "workspace", name[: -len(".ipynb")])
            print(
                f"exercises/{name} has no master in solutions/: if it is your copy of a workbook, move it into\n"
                f"your workspace (`mkdir -p workspace && mv exercises/{name} workspace/{mine}`); if its chapter\n"
                "left the course, delete it. (make exercises leaves it in place.)"
            )
        if edited:
            print(keep_or_drop(edited))
        if stale:
            print("run: make exercises")
        if stale or orphans or edited:
            return 1
        print(f"exercises/ matches solutions/ ({len(expected)} workbooks)")
        return 0
    failed = {}
    try:
        target.mkdir(exist_ok=True)
    except OSError as error:
        print(f"error: cannot create {target}: {describe(error)}", file=sys.stderr)
        return 1
    written = 0
    for name in stale:
        # Judged again just before the write: a save since the first look (JupyterLab autosaves an open
        # workbook every two minutes) makes it the learner's, and it is kept.
        if workbook_state(target / name, expected[name]) == "edited":
            edited.append(name)
            continue
        try:
            write_atomically(target / name, expected[name].encode("utf-8"), overwrite=True)
            written += 1
        except OSError as error:
            failed[name] = describe(error)
    for name in orphans:
        print(f"note: exercises/{name} has no master in solutions/ (left in place)")
    current = sum(state == "current" for state in states.values())
    print(f"wrote {written} workbook(s); {current} already up to date")
    for name, reason in failed.items():
        print(f"error: could not write exercises/{name} ({reason}); it is as it was", file=sys.stderr)
    for name in edited:
        print(
            f"error: exercises/{name} was not overwritten: it holds changes the generator did not make "
            "(answers, outputs or new cells)",
            file=sys.stderr,
        )
    if edited:
        print(keep_or_drop(edited), file=sys.stderr)
    return 1 if failed or edited else 0


if __name__ == "__main__":
    sys.exit(main())
