"""The learner's path in a real browser: JupyterLab in headless chromium runs a lecture and a workbook, the
lecture's explorer redraws its figure when a slider moves, and a solution typed into the workbook passes its
check. Needs Debian's chromium (`make browser-deps`) and the playwright package (`make setup`); skipped without
them, unless SUPERPOSE_REQUIRE_BROWSER=1 (CI), which turns the skip into a failure.

The notebooks are copies in a temporary folder, so the run never touches the repository's own files. Screenshots
of each step land in build/browser/ for a person to look at.
"""

import contextlib
import re
import shutil

import nbformat
import pytest
from browser_support import (
    NOTEBOOK,
    PAGE_S,
    ROOT,
    JupyterLab,
    copy_into,
    launch_chromium,
    open_notebook,
    output_area,
    rendered_errors,
    replace_cell_source,
    require_browser,
    run_all_cells,
    run_current_cell,
    save,
    saved_errors,
)

LECTURE = "notebooks/04_johnson_lindenstrauss.ipynb"
WORKBOOK = "exercises/00_start_here.ipynb"
SOLUTIONS = "solutions/00_start_here.ipynb"
SHOTS = ROOT / "build" / "browser"
SLIDER_WAIT_S = 120


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("browser")
    copy_into(folder / "course", LECTURE, WORKBOOK)
    server = JupyterLab(root_dir=folder / "course", home=folder / "home")
    try:
        yield server.start()
    finally:
        server.stop()
        if (server.home / "jupyterlab.log").exists():  # the server's side of the story, next to the screenshots
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.home / "jupyterlab.log", SHOTS / "jupyterlab.log")


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab, request):
    from playwright.sync_api import Error

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_S * 1000)
    page = context.new_page()
    try:
        yield page
    finally:
        with contextlib.suppress(Error):  # where a failed test stopped, if the page can still tell
            page.screenshot(path=SHOTS / f"last_{request.node.name}.png")
        context.close()
        lab.shutdown_kernels()


def _code_cells_ran(notebook: dict) -> bool:
    return all(cell["execution_count"] for cell in notebook["cells"] if cell["cell_type"] == "code")


def _as_typed(solution: str) -> str:
    """A reference solution as a learner types it: the code, without the generator's solution markers."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in solution.splitlines() if line.strip() not in markers)


def _outputs_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def _assert_saved_clean(page, lab, name: str, screenshot: str) -> dict:
    """Save the notebook, screenshot the page, and assert every code cell ran with no error; the saved notebook."""
    notebook = save(page, lab.root_dir / name)
    page.screenshot(path=SHOTS / screenshot)
    assert saved_errors(notebook) == []
    assert rendered_errors(page) == []
    assert _code_cells_ran(notebook), "Run All Cells left a code cell without an execution count"
    return notebook


def test_lecture_runs_in_jupyterlab_and_its_explorer_redraws_when_a_slider_moves(lab, page):
    from playwright.sync_api import expect

    name = ROOT.joinpath(LECTURE).name
    open_notebook(page, lab, name)
    run_all_cells(page)
    _assert_saved_clean(page, lab, name, "lecture_04_page.png")

    explorer = page.locator(f"{NOTEBOOK} .widget-interact")
    expect(explorer).to_have_count(1)
    explorer.scroll_into_view_if_needed()
    sliders = explorer.locator(".widget-slider")
    expect(sliders).to_have_count(3)
    for index in range(3):
        expect(sliders.nth(index)).to_be_visible()
    figure = explorer.locator(".widget-output img")
    expect(figure).to_be_visible()
    readout = sliders.first.locator(".widget-readout")
    n_before = int(readout.inner_text())
    figure_before = figure.get_attribute("src")
    explorer.screenshot(path=SHOTS / "lecture_04_explorer_before.png")

    # Move the n slider with the keyboard, as a learner can: focus its handle, press End (its largest value).
    sliders.first.locator(".noUi-handle").focus()
    page.keyboard.press("End")
    expect(readout).not_to_have_text(str(n_before), timeout=SLIDER_WAIT_S * 1000)
    n_after = int(readout.inner_text())
    assert n_after > n_before
    output = explorer.locator(".widget-output")
    expect(output).to_contain_text(f"in R^{n_after}:", timeout=SLIDER_WAIT_S * 1000)
    expect(figure).to_be_visible(timeout=SLIDER_WAIT_S * 1000)
    expect(figure).not_to_have_attribute("src", figure_before, timeout=SLIDER_WAIT_S * 1000)
    explorer.screenshot(path=SHOTS / "lecture_04_explorer_after.png")
    page.screenshot(path=SHOTS / "lecture_04_page_after_slider.png")


def test_workbook_meets_its_first_blank_then_runs_clean_once_solved(lab, page):
    from playwright.sync_api import expect

    name = ROOT.joinpath(WORKBOOK).name
    workbook = nbformat.read(ROOT / WORKBOOK, as_version=4)
    solutions = nbformat.read(ROOT / SOLUTIONS, as_version=4)
    exercises = [i for i, cell in enumerate(workbook.cells) if "raise NotImplementedError(" in cell.source]
    assert exercises, f"{WORKBOOK} has no exercise blanks"
    first = exercises[0]
    for index in exercises:  # the workbook is generated from the solutions, cell for cell
        assert workbook.cells[index].source.splitlines()[0] == solutions.cells[index].source.splitlines()[0]

    open_notebook(page, lab, name)
    run_all_cells(page)
    notebook = save(page, lab.root_dir / name)
    # A fresh workbook stops at its first blank, with the check's plain-language message.
    errors = saved_errors(notebook)
    assert len(errors) == 1 and errors[0].startswith(f"cell {first}: NotImplementedError"), errors
    assert "not implemented yet" in errors[0]
    assert len(rendered_errors(page)) == 1
    output_area(page, first).scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "workbook_00_first_blank.png")

    # Type the reference solution into the first exercise and run that cell: its check passes.
    function = re.search(r"def (\w+)\(", solutions.cells[first].source).group(1)
    replace_cell_source(page, first, _as_typed(solutions.cells[first].source))
    run_current_cell(page)
    expect(output_area(page, first)).to_contain_text(f"✓ {function}:")
    assert rendered_errors(page) == []
    page.screenshot(path=SHOTS / "workbook_00_first_check.png")

    # Solve the other exercises too, run everything: no error anywhere, every check passes, yours are used.
    for index in exercises[1:]:
        replace_cell_source(page, index, _as_typed(solutions.cells[index].source))
    run_all_cells(page)
    notebook = _assert_saved_clean(page, lab, name, "workbook_00_solved.png")
    for index in exercises:
        saved = notebook["cells"][index]
        source = "".join(saved["source"])
        assert source == _as_typed(solutions.cells[index].source), f"cell {index} does not hold the text typed in"
        function = re.search(r"def (\w+)\(", source).group(1)
        assert f"✓ {function}:" in _outputs_text(saved)
        expect(output_area(page, index)).to_contain_text(f"✓ {function}:")
    assert not any("using the library's reference" in _outputs_text(cell) for cell in notebook["cells"])
