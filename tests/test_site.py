"""The course website (`make site`): it builds offline without warnings, renders every lecture with its stored
figures, shows each widget as the static output it last drew, and its home page links every chapter's lecture,
workbook and solutions."""

import base64
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402
import course_links  # noqa: E402

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDE = ROOT / "docs" / "instructors.md"
VIEW = build_site.WIDGET_VIEW


# --- a hand-made notebook with the three kinds of widget output ------------------------------------------------


def _model(name: str, **state) -> dict:
    return {"model_module": "@jupyter-widgets/controls", "model_name": name, "state": state}


def _view(model_id: str, text: str = "a widget") -> nbformat.NotebookNode:
    data = {VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}, "text/plain": text}
    return nbformat.v4.new_output("display_data", data=data)


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n a stand-in figure").decode()


def _notebook_with_widgets() -> nbformat.NotebookNode:
    models = {
        "explorer": _model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_out"]),
        "slider": _model("FloatSliderModel", value=0.5),
        "out": {
            "model_module": "@jupyter-widgets/output",
            "model_name": "OutputModel",
            "state": {
                "outputs": [
                    {
                        "output_type": "display_data",
                        "data": {"image/png": PNG, "text/plain": "<Figure>"},
                        "metadata": {},
                    },
                    {"output_type": "stream", "name": "stdout", "text": "coherence 0.4\n"},
                ]
            },
        },
        "bar": _model("HBoxModel", children=["IPY_MODEL_label", "IPY_MODEL_progress", "IPY_MODEL_rate"]),
        "label": _model("HTMLModel", value="training: 100%"),
        "progress": _model("FloatProgressModel", value=10.0, max=10.0),
        "rate": _model("HTMLModel", value="10/10"),
    }
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["widgets"] = {build_site.WIDGET_STATE: {"state": models, "version_major": 2, "version_minor": 0}}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# 99 · A test chapter\n\nSome context. This chapter tests the site."),
        nbformat.v4.new_code_cell("explore()", outputs=[_view("explorer", "interactive(children=...)")]),
        nbformat.v4.new_code_cell(
            "train()",
            outputs=[_view("bar", "training: 0%"), nbformat.v4.new_output("stream", name="stdout", text="loss 0.1\n")],
        ),
        nbformat.v4.new_code_cell("lost()", outputs=[_view("no-such-model")]),
    ]
    return notebook


def test_explorer_view_becomes_the_outputs_of_its_output_model():
    cell = build_site.degrade_widgets(_notebook_with_widgets()).cells[1]
    assert [output.output_type for output in cell.outputs] == ["display_data", "stream"]
    assert cell.outputs[0].data["image/png"] == PNG
    assert cell.outputs[1].text == "coherence 0.4\n"


def test_progress_bar_disappears_and_the_cells_other_outputs_stay():
    cell = build_site.degrade_widgets(_notebook_with_widgets()).cells[2]
    assert [output.get("text") for output in cell.outputs] == ["loss 0.1\n"]


def test_view_of_a_missing_model_becomes_a_note():
    cell = build_site.degrade_widgets(_notebook_with_widgets()).cells[3]
    assert [output.data["text/plain"] for output in cell.outputs] == [build_site.WIDGET_NOTE]


def test_degraded_copy_is_valid_has_no_widget_state_and_leaves_the_original_alone():
    original = _notebook_with_widgets()
    before = nbformat.writes(original)
    staged = build_site.degrade_widgets(original)
    nbformat.validate(staged)
    assert "widgets" not in staged.metadata
    assert VIEW not in nbformat.writes(staged)
    assert nbformat.writes(original) == before


def test_the_course_map_of_chapter_00_gives_every_chapter_its_question():
    questions = build_site.course_map(nbformat.read(LECTURES[0], as_version=4))
    assert sorted(questions) == [lecture.name[:2] for lecture in LECTURES]
    assert all(q[0].isupper() and q.endswith(".") and "|" not in q for q in questions.values())
    row = nbformat.v4.new_markdown_cell("| **07 Some chapter** | how things *work*, roughly |\n| not | a row |")
    assert build_site.course_map(nbformat.v4.new_notebook(cells=[row])) == {"07": "How things *work*, roughly."}


def test_guide_links_to_files_the_site_does_not_render_go_to_the_repository():
    setting = {"repository": "someone/superpose", "ref": "v1"}
    text = (
        "[a](../notebooks/04_jl.ipynb) [b](../exercises/04_jl.ipynb) [c](../README.md#two) [d](https://x.org) [e](#f)"
    )
    linked = build_site.link_outside_site(text, setting, "docs")
    blob = "https://github.com/someone/superpose/blob/v1"
    expected = f"[a](../notebooks/04_jl.ipynb) [b]({blob}/exercises/04_jl.ipynb) [c]({blob}/README.md#two) "
    assert linked == expected + "[d](https://x.org) [e](#f)"


# --- the real site, built once ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = tmp_path_factory.mktemp("site")
    notebooks_before = {path: path.read_bytes() for path in LECTURES}
    result = subprocess.run(
        [sys.executable, "tools/build_site.py", "--build-dir", str(build)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert {path: path.read_bytes() for path in LECTURES} == notebooks_before, "the build modified notebooks/"
    return SimpleNamespace(html=build / "html", result=result, log=result.stdout + result.stderr)


def _page(site, lecture: Path) -> str:
    return (site.html / "notebooks" / f"{lecture.stem}.html").read_text()


def _images(page: str) -> list[str]:
    """The figures of a lecture page (notebook outputs land in _images/; theme icons do not)."""
    return re.findall(r'<img[^>]*src="\.\./_images/([^"]+)"', page)


def test_site_builds_with_no_warnings(site):
    assert site.result.returncode == 0, site.log
    assert "site: 0 Sphinx warning(s)" in site.log
    assert re.search(r"site: build time \d+\.\d s", site.log)


def test_there_is_a_page_for_every_chapter_00_to_11(site):
    assert [lecture.name[:2] for lecture in LECTURES] == [f"{n:02d}" for n in range(12)]
    for lecture in LECTURES:
        assert (site.html / "notebooks" / f"{lecture.stem}.html").exists(), lecture.name


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda path: path.stem[:2])
def test_lecture_page_shows_every_stored_figure_and_no_widget_placeholder(site, lecture):
    page = _page(site, lecture)
    staged = build_site.degrade_widgets(nbformat.read(lecture, as_version=4))
    figures = [
        output for cell in staged.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})
    ]
    images = _images(page)
    assert len(images) == len(figures)
    assert all((site.html / "_images" / name).exists() for name in images)
    assert VIEW not in page and "IPY_MODEL_" not in page and "interactive(children=" not in page
    assert "widget-state+json" not in page and "@jupyter-widgets" not in page  # no widget JavaScript


@pytest.mark.parametrize("chapter", ["04", "06"])
def test_explorer_shows_the_figure_it_first_drew(site, chapter):
    (lecture,) = [path for path in LECTURES if path.name.startswith(chapter)]
    notebook = nbformat.read(lecture, as_version=4)
    models = notebook.metadata["widgets"][build_site.WIDGET_STATE]["state"]
    figures = [
        base64.b64decode(output["data"]["image/png"])
        for model in models.values()
        if model["model_name"] == "OutputModel"
        for output in model["state"]["outputs"]
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"chapter {chapter}'s explorer stored no figure"
    shown = {(site.html / "_images" / name).read_bytes() for name in _images(_page(site, lecture))}
    assert all(figure in shown for figure in figures)


def test_chapter_01_explorer_shows_the_analogy_it_printed(site):
    page = _page(site, LECTURES[1])
    assert "france : paris :: italy : ?" in page


def test_home_page_links_every_lecture_workbook_and_solution(site):
    index = (site.html / "index.html").read_text()
    setting = course_links.settings()
    for lecture in LECTURES:
        assert f'href="notebooks/{lecture.stem}.html"' in index, lecture.name
        title = course_links.chapter_title(nbformat.read(lecture, as_version=4))
        assert title in index
    for question in build_site.course_map(nbformat.read(LECTURES[0], as_version=4)).values():
        assert question.split("*")[0].rstrip(".") in index  # the chapter map's question, as the description
        for folder in ("exercises", "solutions"):
            path = f"{folder}/{lecture.name}"
            assert f'href="{path}"' in index and (site.html / path).read_bytes() == (ROOT / path).read_bytes()
            assert f'href="{course_links.colab_url(setting, path)}"' in index


def test_home_page_points_to_the_readme_for_how_to_run(site):
    index = (site.html / "index.html").read_text()
    assert re.search(r'href="https://github\.com/[^"]+/README\.md"', index)


def test_instructor_guide_has_a_page_when_it_exists(site):
    if not GUIDE.exists():
        pytest.skip("docs/instructors.md is not written yet")
    assert (site.html / "docs" / "instructors.html").exists()
    assert 'href="docs/instructors.html"' in (site.html / "index.html").read_text()


def test_math_renders_offline_or_the_build_says_why(site):
    page = _page(site, LECTURES[4])
    if "_static/mathjax/tex-mml-chtml.js" in page:
        assert (site.html / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
        assert (site.html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    else:
        assert "mathjax@3" in page and "load MathJax from a CDN" in site.log
