"""Colab, Binder and the setup cells install a fixed release, and `make release-check` catches what is not."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import course_links  # noqa: E402
import release_check  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_colab_and_binder_install_from_the_release_tag_not_a_branch():
    version, ref = PYPROJECT["project"]["version"], PYPROJECT["tool"]["superpose"]["ref"]
    assert ref == f"v{version}", f"[tool.superpose] ref must be the release tag v{version}, got {ref!r}"
    setting = course_links.settings()
    assert course_links.install_spec(setting).endswith(f"@v{version}")
    readme = (ROOT / "README.md").read_text()
    assert course_links.binder_url(setting) in readme
    assert "/blob/main/" not in readme


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


@pytest.fixture
def release(tmp_path):
    """A copy of the course's release-relevant files, published as superpose-course/superpose and tagged."""
    root = tmp_path / "course"
    for folder in ("notebooks", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "superpose_lib").mkdir()
    shutil.copy(ROOT / "superpose_lib" / "__init__.py", root / "superpose_lib" / "__init__.py")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r'repository = "[^"]*"', 'repository = "superpose-course/superpose"', pyproject)
    (root / "pyproject.toml").write_text(pyproject)
    setting = course_links.settings(root)
    for folder in ("notebooks", "solutions", "exercises"):
        for path in (root / folder).glob("[0-9][0-9]_*.ipynb"):
            nbformat.write(course_links.with_setup_cell(nbformat.read(path, as_version=4), setting), path)
    (root / "README.md").write_text(course_links.render_readme((ROOT / "README.md").read_text(), setting, root))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "release")
    _git(root, "tag", "-a", setting["ref"], "-m", "release")
    return root


def test_a_tagged_release_passes(release):
    assert release_check.problems(release) == []


def test_the_placeholder_repository_and_a_branch_ref_fail(release):
    pyproject = release / "pyproject.toml"
    text = pyproject.read_text().replace("superpose-course/superpose", "YOUR-GITHUB-USER/superpose")
    pyproject.write_text(text.replace('ref = "v', 'ref = "main" # v'))
    found = "\n".join(release_check.problems(release))
    assert "placeholder" in found
    assert "ref is 'main'" in found and "set ref = 'v" in found


def test_a_missing_or_stale_tag_fails(release):
    _git(release, "tag", "-d", course_links.settings(release)["ref"])
    assert any("there is no git tag" in p for p in release_check.problems(release))
    _git(release, "tag", "-a", course_links.settings(release)["ref"], "-m", "release")
    (release / "notes.txt").write_text("after the tag")
    _git(release, "add", "notes.txt")
    _git(release, "commit", "-q", "-m", "later")
    assert any("not at the commit checked out" in p for p in release_check.problems(release))


def test_a_setup_cell_off_the_tag_is_named(release):
    workbook = release / "exercises" / "03_features_as_directions.ipynb"
    notebook = nbformat.read(workbook, as_version=4)
    notebook.cells[0].source = notebook.cells[0].source.replace("@v", "@main#v")
    nbformat.write(notebook, workbook)
    found = release_check.problems(release)
    assert any("exercises/03_features_as_directions.ipynb" in p and "setup cell" in p for p in found)
    assert any("uncommitted changes" in p for p in found)


def test_a_readme_link_to_a_branch_is_named(release):
    readme = release / "README.md"
    readme.write_text(
        readme.read_text() + "\n[extra](https://colab.research.google.com/github/superpose-course/superpose"
        "/blob/main/notebooks/01_rotational_invariance.ipynb)\n"
    )
    found = release_check.problems(release)
    assert any("blob/main/notebooks/01_rotational_invariance.ipynb" in p for p in found)


def test_the_command_reports_and_fails_on_this_checkout_until_published():
    """Until the course has a real repository, the release check must say so and exit 1."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release_check.py")], cwd=ROOT, capture_output=True, text=True
    )
    found = release_check.problems()
    assert result.returncode == (1 if found else 0)
    for problem in found:
        assert problem in result.stdout
    if PYPROJECT["tool"]["superpose"]["repository"].startswith(release_check.PLACEHOLDER):
        assert result.returncode == 1 and "placeholder" in result.stdout
