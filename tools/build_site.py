"""Build the course website: every lecture rendered with its stored outputs, a chapter map, the instructor guide.

    python tools/build_site.py                   # into build/site/html (what `make site` runs)
    python tools/build_site.py --build-dir DIR   # stage and build under DIR instead (the tests use a temp folder)
    python tools/build_site.py --mathjax cdn     # do not vendor MathJax; pages load it from a CDN

Nothing is executed: the site shows the outputs stored in notebooks/ (`make outputs` refreshes them). The
notebooks are never modified; copies are staged under the build folder, where each interactive widget is
replaced by the static output it showed when the notebook was last run (the first figure of an explorer, the
text it printed), progress bars are dropped, and the widget state is removed, so the pages need no widget
JavaScript. The Sphinx project (myst-nb and sphinx-book-theme) is docs/site/; its settings for the repository
and the Colab links come from `[tool.superpose]` in pyproject.toml through tools/course_links.py.

Math renders offline when npm can fetch MathJax 3 (once; it is cached in build/cache/); without npm the pages
load MathJax from a CDN and the build says so.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_links  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SITE_SOURCE = ROOT / "docs" / "site"
GUIDE = ROOT / "docs" / "instructors.md"
MATHJAX_CACHE = ROOT / "build" / "cache"
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
# What the pages need from the MathJax 3 package: the TeX+MathML/CHTML component, the extensions and fonts it
# loads on demand, and the menu's accessibility tools.
MATHJAX_PARTS = ("tex-mml-chtml.js", "input/", "output/chtml/", "ui/", "a11y/", "sre/", "adaptors/")

STAGED_PAGE = re.compile(r"notebooks/\d\d_[^/]+\.ipynb|docs/instructors\.md")  # repository paths the site renders

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
WIDGET_NOTE = "[An interactive widget: open this notebook in JupyterLab or Colab to use it.]"


# --- widgets become their static output ------------------------------------------------------------------


def _reachable_models(model_id: str, models: dict) -> list[dict]:
    """The widget model `model_id` and every model below it through `children`, depth first, in order."""
    found, stack, seen = [], [model_id], set()
    while stack:
        current = stack.pop()
        if current in seen or current not in models:
            continue
        seen.add(current)
        model = models[current]
        found.append(model)
        children = model.get("state", {}).get("children", []) or []
        refs = [child.removeprefix("IPY_MODEL_") for child in children if isinstance(child, str)]
        stack.extend(reversed(refs))
    return found


def static_outputs(view: dict, models: dict) -> list:
    """The outputs that stand in for one widget-view output on a static page.

    An `interactive` explorer is a VBox of controls and an OutputModel; the OutputModel's stored outputs (the
    figure or text of its first run) replace the view. A tqdm bar (an HBox around a FloatProgressModel) becomes
    nothing: the loop has finished and its results follow. Anything else becomes a one-line note.
    """
    reached = _reachable_models(view["model_id"], models)
    outputs = [
        nbformat.from_dict(copy.deepcopy(output))
        for model in reached
        if model.get("model_name") == "OutputModel"
        for output in model.get("state", {}).get("outputs", [])
    ]
    if outputs:
        return outputs
    if any(model.get("model_name") in PROGRESS_MODELS for model in reached):
        return []
    return [nbformat.v4.new_output("display_data", data={"text/plain": WIDGET_NOTE})]


def degrade_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` with every widget view replaced by its static outputs and no widget state."""
    notebook = copy.deepcopy(notebook)
    widgets = notebook.metadata.pop("widgets", {})
    models = widgets.get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            outputs.extend(static_outputs(view, models) if view else [output])
        cell.outputs = outputs
    return notebook


# --- the chapter map ------------------------------------------------------------------------------------------


MAP_ROW = re.compile(r"^\|\s*\*\*(\d\d)\b[^|]*\*\*\s*\|\s*(.+?)\s*\|\s*$")


def course_map(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Chapter number → the question it answers, from the map table of chapter 00 ("| **04 Title** | why ... |")."""
    questions = {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = MAP_ROW.match(line)
                if match:
                    question = match.group(2)
                    questions[match.group(1)] = question[0].upper() + question[1:].rstrip(".") + "."
    return questions


def landing_page(chapters: list[dict], setting: dict, has_guide: bool) -> str:
    """The MyST source of the home page: what the course is, how to run it, the chapter map, the toctree."""
    repo_url = f"https://github.com/{setting['repository']}"
    lines = [
        "# superpose",
        "",
        "A hands-on course on **superposition**: how neural networks represent more features than they have",
        "neurons, and how to get those features back out. Each chapter has a lecture to read and run, a workbook",
        "whose `check_*` calls tell you whether your code is right, and the workbook's solutions.",
        "",
        "This site shows every lecture with the outputs stored in the notebooks; each interactive explorer shows",
        "what it drew or printed at its starting settings. To run the course yourself, in JupyterLab or in Google",
        "Colab, follow",
        f"[the README of the repository]({repo_url}/blob/{setting['ref']}/README.md) (`make lab` on a fresh clone).",
        "",
        "Your answers go in your own copy of each workbook. On your machine, `make lab` copies the workbooks into a",
        "`workspace/` folder the first time and never overwrites them afterwards; work there, not in `exercises/`,",
        "which the course regenerates. In Colab, *File → Save a copy in Drive* before you write: your edits then",
        "live in your Drive. A workbook downloaded from this page is yours, wherever you save it.",
        "",
        "## Chapter map",
        "",
    ]
    for chapter in chapters:
        links = []
        for label, folder in (("Workbook", "exercises"), ("Solutions", "solutions")):
            path = f"{folder}/{chapter['file']}"
            links.append(
                f'{label}: <a href="{path}" download>download</a> · [Colab]({course_links.colab_url(setting, path)})'
            )
        lines += [
            f"- **[{chapter['title']}](notebooks/{chapter['file']})**  ",
            f"  {chapter['summary']}  ",
            f"  {' — '.join(links)}",
            "",
        ]
    if has_guide:
        lines += ["## Teaching the course", "", "The [instructor guide](docs/instructors.md) plans workshops.", ""]
    toctree = [f"notebooks/{chapter['file']}" for chapter in chapters]
    lines += ["```{toctree}", ":hidden:", ":caption: Lectures", "", *toctree, "```", ""]
    if has_guide:
        lines += ["```{toctree}", ":hidden:", ":caption: Instructors", "", "docs/instructors.md", "```", ""]
    return "\n".join(lines)


def link_outside_site(markdown: str, setting: dict, folder: str) -> str:
    """`markdown` (a page staged at `folder`/) with each relative link to a file the site does not render
    pointed at that file in the repository on GitHub; links to lectures and to the guide, and images, stay."""
    base = f"https://github.com/{setting['repository']}/blob/{setting['ref']}"

    def retarget(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (ROOT / folder / path).resolve()
        try:
            relative = resolved.relative_to(ROOT).as_posix()
        except ValueError:
            return match.group(0)
        if match.group(1).startswith("!") or STAGED_PAGE.fullmatch(relative):
            return match.group(0)
        return f"{match.group(1)}({base}/{relative}{'#' + anchor if anchor else ''})"

    return re.sub(r"(!?\[[^\]]*\])\(([^()\s]+)\)", retarget, markdown)


# --- staging and building -------------------------------------------------------------------------------------


def vendor_mathjax(static: Path, cache: Path = MATHJAX_CACHE) -> bool:
    """Copy MathJax 3 into `static`/mathjax from the npm registry (cached); False, with a notice, if impossible."""
    tarballs = sorted(cache.glob("mathjax-3.*.tgz"))
    if not tarballs:
        npm = shutil.which("npm")
        if npm is None:
            print("site: npm not found, so the pages load MathJax from a CDN (math needs a network to render)")
            return False
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [npm, "pack", "mathjax@3", "--silent", "--fetch-retries=1", "--pack-destination", str(cache)],
                check=True,
                timeout=120,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            print(f"site: `npm pack mathjax@3` failed ({error}); the pages load MathJax from a CDN")
            return False
        tarballs = sorted(cache.glob("mathjax-3.*.tgz"))
    target = static / "mathjax"
    with tarfile.open(tarballs[-1]) as archive:
        for member in archive.getmembers():
            relative = member.name.removeprefix("package/es5/")
            if member.isfile() and relative != member.name and relative.startswith(MATHJAX_PARTS):
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.extractfile(member).read())
    print(f"site: MathJax vendored from {tarballs[-1].name} (math renders offline)")
    return True


def stage(source: Path, setting: dict, mathjax: str) -> list[dict]:
    """Write the Sphinx project into `source`: conf.py and static files, lectures, workbooks, the home page."""
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(SITE_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "notebooks").mkdir()
    chapters = []
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    questions = course_map(nbformat.read(lectures[0], as_version=4)) if lectures else {}
    for lecture in lectures:
        notebook = nbformat.read(lecture, as_version=4)
        staged = degrade_widgets(notebook)
        nbformat.validate(staged)
        nbformat.write(staged, source / "notebooks" / lecture.name)
        title = course_links.chapter_title(notebook)
        if lecture.name[:2] not in questions:
            raise SystemExit(f"chapter {lecture.name[:2]} needs its row in the map table of {lectures[0].name}")
        chapters.append({"file": lecture.name, "title": title, "summary": questions[lecture.name[:2]]})
    extra = source / "_extra"
    for folder in ("exercises", "solutions"):
        (extra / folder).mkdir(parents=True)
        for chapter in chapters:
            shutil.copy2(ROOT / folder / chapter["file"], extra / folder / chapter["file"])
    (extra / ".nojekyll").touch()  # GitHub Pages: serve _static/ and friends as they are
    has_guide = GUIDE.exists()
    if has_guide:
        (source / "docs").mkdir()
        (source / "docs" / "instructors.md").write_text(link_outside_site(GUIDE.read_text(), setting, "docs"))
    (source / "index.md").write_text(landing_page(chapters, setting, has_guide))
    vendored = mathjax == "vendor" and vendor_mathjax(source / "_static")
    options = {"repository": setting["repository"], "ref": setting["ref"], "mathjax_local": vendored}
    (source / "_site.json").write_text(json.dumps(options, indent=2) + "\n")
    return chapters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / "site", help="default: build/site")
    parser.add_argument("--mathjax", choices=["vendor", "cdn"], default="vendor", help="default: vendor")
    args = parser.parse_args()
    start = time.perf_counter()
    build = args.build_dir.resolve()
    source, html, warnings = build / "src", build / "html", build / "warnings.txt"
    chapters = stage(source, course_links.settings(), args.mathjax)
    print(f"site: staged {len(chapters)} lectures in {source}")
    if html.exists():
        shutil.rmtree(html)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-w", str(warnings)]
    command += ["-d", str(build / "doctrees"), str(source), str(html)]
    result = subprocess.run(command)
    count = sum(1 for line in warnings.read_text().splitlines() if "WARNING" in line or "ERROR" in line)
    print(f"site: {count} Sphinx warning(s){f', listed in {warnings}' if count else ''}")
    print(f"site: {'built' if result.returncode == 0 else 'FAILED'} {html / 'index.html'}")
    print(f"site: build time {time.perf_counter() - start:.1f} s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
