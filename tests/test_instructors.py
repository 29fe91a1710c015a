"""The instructor guide (docs/instructors.md) agrees with the notebooks it plans: chapters, exercises, minutes,
schedules whose clocks add up, and a checklist that covers every way into the course."""

import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "instructors.md"
LECTURES = {path.name[:2]: path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
WORKBOOKS = {path.name[:2]: path for path in sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))}
SCHEDULE_HEADING = re.compile(r"^## (Half-day|Full-day) workshop \((\d+(?:\.\d+)?) h\)$", flags=re.MULTILINE)
CLOCK = re.compile(r"^(\d{1,2}):(\d{2})\s*[–-]\s*(\d{1,2}):(\d{2})$")


# --- reading the notebooks ----------------------------------------------------------------------------------


def workbook_exercises(path: Path) -> list[dict]:
    """Each `## Exercise N · Title` of a workbook: its title line, ⏱ minutes and importance (🔵 count)."""
    exercises = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown" and (match := re.match(r"## (Exercise \d+ · .+)", cell.source)):
            exercises.append(
                {
                    "name": match.group(1).strip(),
                    "minutes": int(re.search(r"⏱ (\d+) min", cell.source).group(1)),
                    "importance": re.search(r"\*\*Importance\*\* (\S+)", cell.source).group(1).count("🔵"),
                }
            )
    return exercises


def lecture_minutes(path: Path) -> int:
    markdown = "\n".join(
        cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
    )
    return int(re.search(r"\*\*Time:\*\* about (\d+) minutes", markdown).group(1))


# --- reading the guide --------------------------------------------------------------------------------------


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under a `## ` heading, up to the next `## ` heading (its `### ` subsections included)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", guide(), flags=re.MULTILINE | re.DOTALL)
    assert match, f"docs/instructors.md needs a section '## {heading}'"
    return match.group(1)


def table(text: str) -> list[dict[str, str]]:
    """The first markdown table in `text`, as one dict per row keyed by the header cells (`\\|` unescaped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    assert len(lines) >= 3, "expected a markdown table"

    def cells(line: str) -> list[str]:
        return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]

    header = cells(lines[0])
    return [dict(zip(header, cells(line))) for line in lines[2:]]


def column(row: dict, start: str) -> str:
    (key,) = [key for key in row if key.startswith(start)]
    return row[key]


def names(cell: str) -> list[str]:
    return [] if cell in ("", "—") else [name.strip() for name in cell.split("<br>")]


def chapter_rows() -> dict[str, dict]:
    rows = {}
    for row in table(section("The chapters at a glance")):
        chapter = column(row, "Chapter")
        if match := re.match(r"(\d\d) · ", chapter):
            assert match.group(1) not in rows, f"chapter {match.group(1)} appears twice in the table"
            core, optional = (int(part) for part in column(row, "Exercises").split("+"))
            rows[match.group(1)] = {
                "teaching": int(column(row, "Teaching")),
                "core_minutes": core,
                "optional_minutes": optional,
                "core": names(column(row, "Core")),
                "optional": names(column(row, "Optional")),
            }
    return rows


def schedules() -> list[tuple[str, float, str]]:
    """(kind, stated hours, section text) for each workshop schedule."""
    return [
        (match.group(1), float(match.group(2)), section(match.group(0).removeprefix("## ")))
        for match in SCHEDULE_HEADING.finditer(guide())
    ]


def minutes_of(hour: str, minute: str) -> int:
    return int(hour) * 60 + int(minute)


# --- chapters and exercises ---------------------------------------------------------------------------------


def test_the_guide_has_a_section_for_every_chapter():
    chapters = section("Chapter by chapter")
    for number in LECTURES:
        match = re.search(rf"^### {number} · [^\n]+\n(.*?)(?=^### |\Z)", chapters, flags=re.MULTILINE | re.DOTALL)
        assert match, f"docs/instructors.md needs a '### {number} · ...' section under '## Chapter by chapter'"
        assert "**Emphasise.**" in match.group(1) and "**Pitfalls.**" in match.group(1), number


def test_the_table_has_one_row_per_chapter_in_order():
    assert list(chapter_rows()) == list(LECTURES)


@pytest.mark.parametrize("number", sorted(WORKBOOKS))
def test_every_exercise_is_listed_exactly_once_by_its_workbook_heading(number):
    row = chapter_rows()[number]
    listed = Counter(row["core"] + row["optional"])
    in_workbook = Counter(exercise["name"] for exercise in workbook_exercises(WORKBOOKS[number]))
    assert listed == in_workbook, f"chapter {number}: listed {sorted(listed)}, workbook has {sorted(in_workbook)}"


@pytest.mark.parametrize("number", sorted(WORKBOOKS))
def test_exercise_minutes_are_the_sums_of_the_workbook_budgets(number):
    row = chapter_rows()[number]
    budget = {exercise["name"]: exercise["minutes"] for exercise in workbook_exercises(WORKBOOKS[number])}
    assert row["core_minutes"] == sum(budget[name] for name in row["core"])
    assert row["optional_minutes"] == sum(budget[name] for name in row["optional"])


@pytest.mark.parametrize("number", sorted(WORKBOOKS))
def test_a_workbook_promises_at_least_the_time_of_its_exercises(number):
    total = sum(exercise["minutes"] for exercise in workbook_exercises(WORKBOOKS[number]))
    assert lecture_minutes(WORKBOOKS[number]) >= total, (
        f"workbook {number}: its **Time:** line is shorter than its exercises' ⏱ budgets ({total} min)"
    )


@pytest.mark.parametrize("number", sorted(WORKBOOKS))
def test_core_exercises_are_those_of_importance_four_or_more(number):
    row = chapter_rows()[number]
    for exercise in workbook_exercises(WORKBOOKS[number]):
        expected = "core" if exercise["importance"] >= 4 else "optional"
        assert exercise["name"] in row[expected], f"{exercise['name']} should be {expected}, as the guide defines"


@pytest.mark.parametrize("number", sorted(LECTURES))
def test_teaching_minutes_are_the_lecture_time_estimate(number):
    assert chapter_rows()[number]["teaching"] == lecture_minutes(LECTURES[number])


def test_the_total_row_adds_up():
    rows = chapter_rows()
    (total,) = [row for row in table(section("The chapters at a glance")) if "Total" in column(row, "Chapter")]
    core, optional = (int(part) for part in column(total, "Exercises").split("+"))
    assert int(column(total, "Teaching")) == sum(row["teaching"] for row in rows.values())
    assert core == sum(row["core_minutes"] for row in rows.values())
    assert optional == sum(row["optional_minutes"] for row in rows.values())


# --- schedules ----------------------------------------------------------------------------------------------


def test_there_is_a_half_day_and_a_full_day_schedule():
    assert {(kind, hours) for kind, hours, _ in schedules()} == {("Half-day", 3.5), ("Full-day", 7.0)}


@pytest.mark.parametrize("kind", ["Half-day", "Full-day"])
def test_schedule_clock_times_are_consistent_and_fit_the_stated_length(kind):
    ((_, hours, text),) = [entry for entry in schedules() if entry[0] == kind]
    rows = table(text)
    spans = []
    for row in rows:
        match = CLOCK.match(column(row, "Time"))
        assert match, f"{kind}: '{column(row, 'Time')}' is not a clock range like 09:00–09:15"
        start, end = minutes_of(*match.group(1, 2)), minutes_of(*match.group(3, 4))
        assert end > start, f"{kind}: {column(row, 'Time')} ends before it starts"
        assert int(column(row, "Minutes")) == end - start, (
            f"{kind}: {column(row, 'Time')} is not {column(row, 'Minutes')} min"
        )
        spans.append((start, end))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start == end, f"{kind}: a gap or an overlap between blocks at {end // 60:02d}:{end % 60:02d}"
    total = spans[-1][1] - spans[0][0]
    assert hours * 60 - 15 <= total <= hours * 60, f"{kind}: {total} min for a {hours:g} h day"
    assert any("Break" in column(row, "Block") for row in rows), f"{kind}: no break"


@pytest.mark.parametrize("kind", ["Half-day", "Full-day"])
def test_schedule_blocks_come_from_the_chapter_table(kind):
    ((_, _, text),) = [entry for entry in schedules() if entry[0] == kind]
    chapters = chapter_rows()
    lectures, workbooks = [], []
    for row in table(text):
        block, minutes = column(row, "Block"), int(column(row, "Minutes"))
        if match := re.match(r"Lecture (\d\d) · ", block):
            lectures.append(match.group(1))
            assert minutes == chapters[match.group(1)]["teaching"], f"{kind}: {block} should take the table's time"
        elif match := re.match(r"Workbook (\d\d), core exercises", block):
            workbooks.append(match.group(1))
            assert minutes == chapters[match.group(1)]["core_minutes"], f"{kind}: {block} should take the core time"
    covered = re.search(r"Chapters covered: ([\d, ]+)\.", text)
    assert covered, f"{kind}: say which chapters the day covers ('Chapters covered: 00, 05, 06.')"
    assert [number.strip() for number in covered.group(1).split(",")] == lectures == workbooks


# --- the checklist and the rest -----------------------------------------------------------------------------


CHECKLIST_NAMES = (
    *("Colab", "Binder", "python -m superpose_lib workspace", "offline", "wheelhouse", "pip wheel"),
    *("environment.yml", "make run", "make slides", "RISE", "jupyterlab_rise"),
)


@pytest.mark.parametrize("needed", CHECKLIST_NAMES)
def test_the_checklist_covers_every_way_into_the_course(needed):
    assert needed.lower() in section("Before the workshop").lower()


def test_no_measured_run_times_are_typed_into_the_guide():
    typed = re.findall(r"\b\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds)\b", guide())
    assert not typed, f"run times come from `make run`, not from the guide: {typed}"


def _slug(heading: str) -> str:
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def test_links_and_anchors_resolve():
    text = guide()
    anchors = {_slug(heading) for heading in re.findall(r"^#{1,3} (.+)$", text, flags=re.MULTILINE)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (GUIDE.parent / path).exists(), f"broken link: {target}"
        elif anchor:
            assert anchor in anchors, f"no heading for the anchor #{anchor}"


def test_named_files_and_make_targets_exist():
    text = guide()
    for token in re.findall(r"`([^`\s]+)`", text):
        looks_like_path = re.fullmatch(r"[\w-]+(/[\w.-]+)+/?|[\w-]+\.(yml|toml|md|py)", token)
        if looks_like_path and not token.startswith("build/") and "NN" not in token:
            assert (ROOT / token).exists(), f"the guide names {token}, which does not exist"
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    for target in re.findall(r"`make ([\w-]+)", text):
        assert target in targets, f"the guide names `make {target}`, which the Makefile does not have"
