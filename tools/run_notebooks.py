"""Execute course notebooks headless and report the seconds each took against its time budget.

Each notebook's budget is `metadata.superpose.time_budget_s` (at full settings, on a 2-core CPU).

    python tools/run_notebooks.py notebooks --out build/run      # make run: full settings, via papermill
    python tools/run_notebooks.py notebooks --in-place           # make outputs: refresh stored outputs
    python tools/run_notebooks.py solutions --fast --out DIR     # papermill with FAST=True
    python tools/run_notebooks.py exercises --fast --blanks      # only NotImplementedError may be raised
    python tools/run_notebooks.py notebooks --readme             # make times: make run, table into README.md

The table is a report, not a test: a notebook over its budget is marked OVER and the run still succeeds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from superpose_lib.workspace import write_atomically

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"
CELL_TIMEOUT_S = 600


@dataclass
class Run:
    path: str
    mode: str
    seconds: float
    budget: float | None


def budget(notebook: nbformat.NotebookNode) -> float | None:
    return notebook.metadata.get("superpose", {}).get("time_budget_s")


def notebooks_in(arguments: list[str]) -> list[Path]:
    paths = []
    for argument in arguments:
        path = Path(argument)
        paths += sorted(path.glob("[0-9][0-9]_*.ipynb")) if path.is_dir() else [path]
    return paths


def run_papermill(path: Path, out: Path, parameters: dict) -> Run:
    """Execute with papermill (parameters injected after the `parameters` cell) into `out`."""
    import papermill

    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out),
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=str(path.parent),
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT_S,
    )
    seconds = time.perf_counter() - start
    mode = "papermill " + " ".join(f"{k}={v}" for k, v in parameters.items())
    return Run(_display(path), mode, seconds, budget(nbformat.read(path, as_version=4)))


def run_with_blanks(path: Path, parameters: dict) -> tuple[Run, nbformat.NotebookNode]:
    """Execute a workbook top to bottom, letting cells fail only with NotImplementedError (the blanks)."""
    from nbclient import NotebookClient

    notebook = with_parameters(nbformat.read(path, as_version=4), parameters)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        allow_error_names=["NotImplementedError"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    mode = "blanks " + " ".join(f"{k}={v}" for k, v in parameters.items())
    return Run(_display(path), mode, seconds, budget(notebook)), notebook


def with_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> nbformat.NotebookNode:
    """Insert a cell assigning `parameters` right after the `parameters` cell, as papermill does."""
    index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    source = "# Injected parameters\n" + "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    notebook.cells.insert(index + 1, cell)
    return notebook


def errors_in(notebook: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, error name) for every error output."""
    return [
        (index, output.get("ename", "?"))
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def refresh_outputs(path: Path) -> Run:
    """Re-execute a lecture notebook in place with its stored parameters, so its outputs are current."""
    from nbclient import NotebookClient

    original = path.read_bytes()
    notebook = nbformat.reads(original.decode("utf-8"), as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        record_timing=False,  # per-cell timestamps would change the file on every refresh
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    notebook.metadata.get("language_info", {}).pop("version", None)  # a machine detail, not course content
    if path.read_bytes() != original:  # saved in JupyterLab during the minutes it ran: that save is kept
        raise SystemExit(
            f"error: {_display(path)} changed while it ran (saved in JupyterLab?), so its refreshed outputs were "
            "not written: close or save it, then run make outputs again"
        )
    # All or nothing: a refresh cut short never leaves a truncated lecture (make lab opens them; notes live there).
    write_atomically(path, (nbformat.writes(notebook) + "\n").encode("utf-8"), overwrite=True)
    return Run(_display(path), "in place", seconds, budget(notebook))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def table(runs: list[Run]) -> str:
    lines = [f"{'notebook':<40} {'mode':<28} {'seconds':>8} {'budget':>7}  status"]
    for run in runs:
        limit = f"{run.budget:.0f}" if run.budget else "—"
        status = "—" if not run.budget else ("ok" if run.seconds <= run.budget else "OVER")
        lines.append(f"{run.path:<40} {run.mode:<28} {run.seconds:8.1f} {limit:>7}  {status}")
    lines.append(f"{'total':<40} {'':<28} {sum(r.seconds for r in runs):8.1f}")
    return "\n".join(lines)


README_START = "<!-- run-times:start (generated by make times) -->"
README_END = "<!-- run-times:end -->"


def machine() -> str:
    """Cores, processor and torch version: what a time table was measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, Python {platform.python_version()}"


def readme_table(runs: list[Run], where: str, day: str) -> str:
    """The README's time table of a full-settings run of every lecture."""
    rows = ["| chapter | seconds | budget |", "|---|---:|---:|"]
    for run in runs:
        rows.append(f"| {Path(run.path).stem} | {run.seconds:.1f} | {run.budget:.0f} |")
    rows.append(f"| **total** | **{sum(r.seconds for r in runs):.0f}** | |")
    return f"Measured by `make times` on {day}: {where}.\n\n" + "\n".join(rows)


def write_readme_table(runs: list[Run], readme: Path = ROOT / "README.md") -> None:
    from course_links import replace_block

    table_text = readme_table(runs, machine(), datetime.date.today().isoformat())
    text = replace_block(readme.read_text(), README_START, README_END, table_text)
    write_atomically(readme, text.encode("utf-8"), overwrite=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="notebooks or folders of NN_*.ipynb notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "run", help="where executed copies go")
    parser.add_argument("--fast", action="store_true", help="run with FAST=True")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blanks", action="store_true", help="workbooks: allow only NotImplementedError")
    parser.add_argument("--in-place", action="store_true", help="refresh the stored outputs of lecture notebooks")
    parser.add_argument("--readme", action="store_true", help="write the time table into README.md (all lectures)")
    args = parser.parse_args()
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.readme and (args.fast or args.blanks or [p.resolve() for p in notebooks_in(args.paths)] != lectures):
        raise SystemExit("--readme records a full-settings run of every lecture: pass notebooks/ without --fast")
    parameters = {"FAST": args.fast, "SEED": args.seed}
    runs = []
    for path in notebooks_in(args.paths):
        print(f"running {_display(path)} ...", flush=True)
        if args.in_place:
            if path.resolve().parent != (ROOT / "notebooks").resolve():
                raise SystemExit(f"--in-place only refreshes lecture notebooks in notebooks/, not {path}")
            runs.append(refresh_outputs(path))
        elif args.blanks:  # any error other than NotImplementedError stops the run with its traceback
            runs.append(run_with_blanks(path, parameters)[0])
        else:
            runs.append(run_papermill(path, args.out / path.parent.name / path.name, parameters))
    print()
    print(table(runs))
    if args.readme:
        write_readme_table(runs)
        print("README.md: time table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
