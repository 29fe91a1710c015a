"""Session-wide pytest setup: hypothesis settings for CI, and the per-notebook time table that `make test`
prints at the end."""

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import settings

# In CI, property tests draw the same examples every run, so a red build always reproduces.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
import run_notebooks  # noqa: E402

_RUNS: list = []
_NBVAL_SECONDS: dict = defaultdict(float)


@pytest.fixture
def notebook_runs():
    """Tests append run_notebooks.Run records here; they are reported against the budgets at the end."""
    return _RUNS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    start = time.perf_counter()
    yield
    if "::Cell " in item.nodeid:  # nbval items, one per cell
        _NBVAL_SECONDS[item.nodeid.split("::")[0]] += time.perf_counter() - start


def pytest_terminal_summary(terminalreporter):
    import nbformat

    runs = list(_RUNS)
    for path, seconds in sorted(_NBVAL_SECONDS.items()):
        budget = run_notebooks.budget(nbformat.read(Path(path), as_version=4))
        runs.append(run_notebooks.Run(path, "nbval (stored settings)", seconds, budget))
    if runs:
        terminalreporter.section("notebook time budgets (a report, not a test)")
        terminalreporter.write_line(run_notebooks.table(runs))
