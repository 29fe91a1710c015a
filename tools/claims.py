"""Print every claim the lectures make, read from their stored outputs (``make claims``).

A lecture backs a takeaway with ``claim(statement, holds, evidence)`` (``superpose_lib.claims``); in a
notebook each call leaves a ``display_data`` output whose metadata holds the record
``{"superpose": {"claim": {"statement", "holds", "evidence"}}}``. This tool lists, chapter by chapter, every
statement, whether it held when the outputs were stored, and its evidence.

A claim is **missing** when a code cell calls ``claim(`` but its stored outputs do not hold a record for that
call: the cell was never run (no ``execution_count`` or no outputs), or it was edited after its outputs were
stored. Calls are matched to records by their statement: a literal statement needs a record with exactly that
text, an f-string one a record that fits its literal parts; a call whose statement is any other expression
needs a record no other call in the cell accounts for. A call inside a loop may leave several records; a
missing one is never shown as held. A call inside a function body is expected where the function is called
(its records are listed there), not in the cell that defines it.

    python tools/claims.py                    # the lectures in notebooks/, as a table
    python tools/claims.py --json             # one JSON object per line: chapter, statement, holds, evidence
    python tools/claims.py path/to/NN_x.ipynb # particular notebooks

``holds`` is ``true``, ``false`` or, for a missing claim, ``null``. The exit status is 1 when any claim
failed or is missing, so the command can gate a release.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from run_notebooks import notebooks_in  # the course's one rule for "the chapters in a folder"

ROOT = Path(__file__).resolve().parents[1]
METADATA_KEY = "superpose"  # superpose_lib.claims.CLAIM_METADATA_KEY (not imported: no torch needed here)
MISSING_EVIDENCE = "missing: the stored outputs predate this claim (run make outputs)"


@dataclass
class Claim:
    chapter: str
    statement: str
    holds: bool | None  # None: missing from the stored outputs
    evidence: str | None

    @property
    def status(self) -> str:
        return {True: "held", False: "FAILED", None: "missing"}[self.holds]

    def as_json(self) -> str:
        record = {"chapter": self.chapter, "statement": self.statement, "holds": self.holds}
        record["evidence"] = self.evidence
        return json.dumps(record, ensure_ascii=False)


@dataclass
class _CallSite:
    """One ``claim(...)`` call in a cell's source and how to recognise its records."""

    text: str  # the statement as the source writes it
    pattern: re.Pattern | None  # None: the statement is an expression we cannot read statically


def _python_source(source: str) -> str:
    """The cell without IPython magics and shell lines, which ``ast`` cannot parse."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _statement_node(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((kw.value for kw in call.keywords if kw.arg == "statement"), None)


def _call_site(call: ast.Call, source: str) -> _CallSite:
    node = _statement_node(call)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _CallSite(node.value, re.compile(re.escape(node.value)))
    if isinstance(node, ast.JoinedStr):
        parts = [
            re.escape(value.value) if isinstance(value, ast.Constant) else ".*?"
            for value in node.values  # literal text, or a formatted {expression}
        ]
        text = ast.get_source_segment(source, node) or "f-string"
        return _CallSite(text, re.compile("".join(parts), re.DOTALL))
    text = ast.get_source_segment(source, node) if node is not None else None
    return _CallSite(text or "claim(...)", None)


def claim_calls(source: str) -> list[_CallSite]:
    """The ``claim(...)`` calls in a code cell's source, in the order they appear."""
    python = _python_source(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:  # not Python we can read: fall back to counting the calls by their text
        return [_CallSite("claim(...)", None) for _ in re.finditer(r"\bclaim\(", python)]
    deferred = {  # calls inside a function body run when (and where) the function is called, not here
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for inner in ast.walk(node)
        if inner is not node
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and id(node) not in deferred
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "claim")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "claim")
        )
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [_call_site(call, python) for call in calls]


def claim_records(cell: nbformat.NotebookNode) -> list[dict]:
    """The claim records among a code cell's stored outputs, in output order."""
    records = []
    for output in cell.get("outputs", []):
        record = output.get("metadata", {}).get(METADATA_KEY, {}).get("claim")
        if output.get("output_type") == "display_data" and isinstance(record, dict):
            records.append(record)
    return records


def _from_record(chapter: str, record: dict) -> Claim:
    return Claim(chapter, str(record.get("statement")), bool(record.get("holds")), str(record.get("evidence")))


def cell_claims(chapter: str, cell: nbformat.NotebookNode) -> list[Claim]:
    """Every claim of one code cell: its stored records, and a missing entry for each call without one."""
    sites = claim_calls(cell.source)
    ran = cell.get("execution_count") is not None and bool(cell.get("outputs"))
    records = claim_records(cell) if ran else []
    used = [False] * len(records)
    found: list[tuple[int, Claim]] = []  # (position in output order, claim); missing ones sort by call order
    for number, site in enumerate(sites):
        if site.pattern is None:
            continue
        matches = [i for i, record in enumerate(records) if site.pattern.fullmatch(str(record.get("statement")))]
        for i in matches:
            used[i] = True
            found.append((i, _from_record(chapter, records[i])))
        if not matches:
            found.append((len(records) + number, Claim(chapter, site.text, None, MISSING_EVIDENCE)))
    free = [i for i in range(len(records)) if not used[i]]
    for number, site in enumerate(sites):
        if site.pattern is not None:
            continue
        if free:  # each call we cannot read statically accounts for at least one record no other call claims
            i = free.pop(0)
            found.append((i, _from_record(chapter, records[i])))
        else:
            found.append((len(records) + number, Claim(chapter, site.text, None, MISSING_EVIDENCE)))
    found += [(i, _from_record(chapter, records[i])) for i in free]  # loops, or claims made by called code
    return [claim for _, claim in sorted(found, key=lambda pair: pair[0])]


def chapter_of(path: Path) -> str:
    return path.name[:2] if path.name[:2].isdigit() else path.stem


def notebook_claims(path: Path) -> list[Claim]:
    """Every claim of one notebook, in reading order."""
    notebook = nbformat.read(path, as_version=4)
    chapter = chapter_of(path)
    claims = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            claims += cell_claims(chapter, cell)
    return claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "notebooks")], help="notebooks or folders")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    claims = [claim for path in notebooks_in(args.paths) for claim in notebook_claims(path)]
    for claim in claims:
        if args.json:
            print(claim.as_json())
        else:
            print(f"{claim.chapter}  {claim.status:<7}  {claim.statement}  [{claim.evidence}]")
    bad = [claim for claim in claims if claim.holds is not True]
    if not args.json:
        counts = {status: sum(c.status == status for c in claims) for status in ("held", "FAILED", "missing")}
        print(f"{len(claims)} claims: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
