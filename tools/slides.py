"""Give every lecture notebook the slideshow metadata that presents it as slides, by one rule.

RISE for JupyterLab (`jupyterlab_rise`), `jupyter nbconvert --to slides` and JupyterLab's property inspector
all read `metadata.slideshow.slide_type` on each cell: "slide" starts a new slide, "subslide" a step below
it, "-" continues the current one, "skip" hides the cell ("fragment" and "notes" exist, unused here). This
script sets it on every cell of notebooks/NN_*.ipynb so that the slides follow the lecture's own structure:

- the setup cell (tag `setup`) and the `parameters` cell → "skip": plumbing, not content;
- a markdown cell with a `# ` or `## ` heading line anywhere in it (the title, each timed section, Summary,
  What's next) → "slide": one slide per section. A cell that opens with the previous figure's takeaway and
  then starts a section still becomes a slide, because cells are never split;
- a markdown cell whose highest heading is `### ` → "subslide";
- a markdown cell without a heading that follows a code cell → "subslide": the prose that reads a result
  starts the next step of the section, so each screen holds one claim and its evidence;
- a code cell that follows a code cell → "subslide": every figure or table gets a screen of its own;
- anything else → "-": a code cell stays with the prose that introduces it, prose that follows prose
  continues it.

The first cell that is not skipped is always a "slide". Skipped cells are invisible to the rule ("follows"
means follows the previous shown cell), and headings inside fenced code blocks do not count.

Only `metadata.slideshow.slide_type` is written: sources, outputs and every other piece of metadata stay as
they are, a notebook that already follows the rule is not rewritten, and a changed one is written the way
nbformat writes notebooks (indent 1, sorted keys, UTF-8, a final newline). Running it twice changes nothing.

    python tools/slides.py                      # write the metadata into notebooks/NN_*.ipynb
    python tools/slides.py --check              # exit 1, naming the files, where a notebook differs
    python tools/slides.py --html build/slides  # write it, then export reveal.js slides (`make slides`)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from superpose_lib.workspace import write_atomically

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_TAGS = ("setup", "parameters")
HEADING = re.compile(r"^(#{1,6})\s+\S")
FENCE = re.compile(r"^\s*(```|~~~)")


def lectures(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def highest_heading(markdown: str) -> int | None:
    """The level of the highest heading line in `markdown` (1 for `# `), ignoring fenced code; None if none."""
    levels, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            levels.append(len(match.group(1)))
    return min(levels, default=None)


def slide_types(cells: list[dict]) -> list[str]:
    """The slide type of every cell, by the rule in this module's docstring."""
    types, previous = [], None  # previous: the cell type of the last cell shown
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if any(tag in tags for tag in SKIPPED_TAGS):
            types.append("skip")
            continue
        kind = cell["cell_type"]
        level = highest_heading(_source(cell)) if kind == "markdown" else None
        if previous is None or (level is not None and level <= 2):
            slide_type = "slide"
        elif level == 3 or previous == "code":
            slide_type = "subslide"
        else:
            slide_type = "-"
        types.append(slide_type)
        previous = kind
    return types


def current_types(notebook: dict) -> list[str | None]:
    return [cell.get("metadata", {}).get("slideshow", {}).get("slide_type") for cell in notebook["cells"]]


def apply(notebook: dict) -> int:
    """Set every cell's slide type by the rule; returns how many cells changed."""
    changed = 0
    for cell, slide_type in zip(notebook["cells"], slide_types(notebook["cells"])):
        slideshow = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        if slideshow.get("slide_type") != slide_type:
            slideshow["slide_type"] = slide_type
            changed += 1
    return changed


def render(notebook: dict) -> str:
    """The notebook's text as nbformat writes it."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def stale_cells(path: Path) -> int:
    """How many cells of the notebook at `path` differ from the rule."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(have != want for have, want in zip(current_types(notebook), slide_types(notebook["cells"])))


def update(path: Path) -> int:
    """Write the rule's slide types into the notebook at `path` (only if any differ); returns cells changed."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = apply(notebook)
    if changed:
        write_atomically(path, render(notebook).encode("utf-8"), overwrite=True)  # never a truncated lecture
    return changed


def export_html(paths: list[Path], out: Path) -> list[Path]:
    """reveal.js slides of each notebook, from its stored outputs (nothing is executed), into `out`.

    The pages are nbconvert's: they load reveal.js, require.js and MathJax from the web when opened.
    """
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(reveal_scroll=True)  # a tall figure scrolls instead of being cut off
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        body, resources = exporter.from_filename(str(path))
        target = out / (path.stem + resources.get("output_extension", ".slides.html"))
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if any notebook differs")
    parser.add_argument("--html", type=Path, metavar="DIR", help="also export reveal.js slides into DIR")
    args = parser.parse_args(argv)
    paths = args.paths or lectures()
    if args.check:
        stale = {path: count for path in paths if (count := stale_cells(path))}
        for path, count in stale.items():
            print(f"{_display(path)}: {count} cell(s) differ from the slide rule of tools/slides.py")
        if stale:
            print("run: make slides")
            return 1
        print(f"slideshow metadata follows the rule in {len(paths)} notebook(s)")
        return 0
    for path in paths:
        if changed := update(path):
            print(f"{_display(path)}: set the slide type of {changed} cell(s)")
    print(f"slideshow metadata follows the rule in {len(paths)} notebook(s)")
    if args.html:
        written = export_html(paths, args.html)
        print(f"wrote {len(written)} slide show(s) to {_display(args.html)}/ (open them in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
