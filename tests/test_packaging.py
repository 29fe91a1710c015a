"""Packaging and setup: dependencies are lower bounds, conda and pip agree, the workflows exist."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def test_runtime_dependencies_are_lower_bounds_only():
    # Colab's preinstalled torch, numpy and matplotlib must satisfy them: no pins, no upper bounds.
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert re.fullmatch(r"[\w-]+>=[\d.]+", requirement), requirement


def test_environment_yml_names_every_dependency_of_pyproject():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in environment["dependencies"] if isinstance(d, str)}
    wanted = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]
    for requirement in wanted:
        if "python_version" in requirement:
            continue
        name = _name(requirement)
        assert CONDA_NAMES.get(name, name) in conda, f"{name} is in pyproject.toml but not in environment.yml"
    assert "conda-forge" in environment["channels"]
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in environment["dependencies"])


def test_makefile_offers_every_workflow():
    makefile = (ROOT / "Makefile").read_text()
    for target in ["setup", "lab", "run", "test", "lint", "exercises", "check-exercises", "outputs", "bench"]:
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), f"make {target} is missing"
    for target in ["workspace", "times", "site", "slides", "browser-deps", "release-check"]:
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), f"make {target} is missing"


def test_readme_lists_every_make_target():
    targets = re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    readme = (ROOT / "README.md").read_text()
    for target in targets:
        if target != "clean":
            assert f"`make {target}" in readme, f"make {target} is not in the README's workflow table"


def test_environment_yml_is_what_binder_builds():
    """repo2docker reads the Python version from environment.yml and installs the course with pip."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in environment["dependencies"] if isinstance(d, str) and _name(d) == "python"]
    assert len(python) == 1 and re.fullmatch(r"python=3\.\d+", python[0]), python
    minor = int(python[0].split(".")[1])
    assert minor >= int(PYPROJECT["project"]["requires-python"].split(".")[1])
    conda = {_name(d) for d in environment["dependencies"] if isinstance(d, str)}
    assert {"jupyterlab", "ipywidgets", "pip"} <= conda
    assert environment["channels"] == ["conda-forge"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_repository_setting_drives_badges_and_setup_cells():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "course_links.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholder_repository_is_explained_in_the_readme():
    repository = PYPROJECT["tool"]["superpose"]["repository"]
    readme = (ROOT / "README.md").read_text()
    if repository.startswith("YOUR-GITHUB-USER/"):
        assert "[tool.superpose]" in readme and "make badges" in readme


PRESENTATION = {"__init__", "__main__", "plotting", "widgets", "checks"}
CORE = sorted(p.stem for p in (ROOT / "superpose_lib").glob("*.py") if p.stem not in PRESENTATION)


@pytest.mark.parametrize("module", CORE)
def test_computational_core_does_not_import_plotting_widgets_or_checks(module):
    source = (ROOT / "superpose_lib" / f"{module}.py").read_text()
    for banned in ("matplotlib", "ipywidgets", "checks", "plotting", "widgets"):
        assert not re.search(rf"^\s*(import|from)\s+\S*{banned}", source, flags=re.MULTILINE), (
            f"{module}.py must stay headless: it imports {banned}"
        )


def test_every_subpackage_ships_in_the_wheel():
    # Colab installs the library from git (not editable): a subpackage missing here would vanish there.
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    mapped = PYPROJECT["tool"]["setuptools"].get("package-dir", {})  # data folders shipped as packages
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "superpose_lib").rglob("__init__.py")}
    assert found == listed - set(mapped), f"list every package in [tool.setuptools] packages: found {sorted(found)}"
    assert mapped == {"superpose_lib.workbooks": "exercises"} and set(mapped) <= listed


def test_every_data_file_of_the_library_ships_in_the_wheel():
    # e.g. the GloVe subset and chapter 11's polysemy set: a file no package-data pattern matches is left out
    import fnmatch

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["superpose_lib"]
    for path in (ROOT / "superpose_lib" / "data").iterdir():
        relative = path.relative_to(ROOT / "superpose_lib").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), f"{relative} is not in package-data"
