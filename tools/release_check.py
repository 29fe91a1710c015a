"""Check that the course is ready to publish as a release (`make release-check`).

A learner who clicks a Colab badge, opens Binder or runs the setup cell must get the same, fixed version of
the course: the one the release tag names, not whatever a branch holds that day. This checks that:

1. `[tool.superpose] repository` is a real "owner/name" (not the placeholder), and `ref` is the release tag
   `v<version>` of `[project] version`, which `superpose_lib.__version__` matches;
2. that tag exists in this repository and points at the commit checked out, and the work tree is clean;
3. every notebook's first cell is the canonical setup cell that installs from that tag (lectures, solutions
   and workbooks), and the README's badges and chapter table are the ones the setting generates;
4. every Colab or Binder link in README.md opens the tagged version of this repository.

    python tools/release_check.py           # prints each check; exit 1 if any fails

Releasing: set `version` and `ref = "v<version>"`, run `make badges`, commit, `git tag -a v<version>`, then
`make release-check` and push the commit and the tag.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
from course_links import ROOT, SETUP_TAGS, render_readme, settings, setup_cell_source

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PLACEHOLDER = "YOUR-GITHUB-USER"
LINK = re.compile(r"https://(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh)/([^)\s\"'<>]+)")


def _git(root: Path, *args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _package_version(root: Path) -> str | None:
    match = re.search(r'^__version__ = "([^"]+)"', (root / "superpose_lib" / "__init__.py").read_text(), re.M)
    return match.group(1) if match else None


def problems(root: Path = ROOT) -> list[str]:
    """Everything that stands between this checkout and a release; empty when it is ready."""
    found = []
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    try:
        setting = settings(root)
    except ValueError as error:
        return [str(error)]
    repository, ref, version = setting["repository"], setting["ref"], project["version"]
    tag = f"v{version}"

    if repository.split("/")[0] == PLACEHOLDER:
        found.append(f"[tool.superpose] repository is still the placeholder {repository!r}: set the real owner/name")
    if ref != tag:
        found.append(f"[tool.superpose] ref is {ref!r}: a release installs from its tag, set ref = {tag!r}")
    if _package_version(root) != version:
        found.append(f"superpose_lib.__version__ is {_package_version(root)!r} but pyproject's version is {version!r}")

    tagged = _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{ref}^{{commit}}")
    head = _git(root, "rev-parse", "HEAD")
    if tagged is None:
        found.append(f"there is no git tag {ref!r}: create it with git tag -a {ref} -m 'superpose {version}'")
    elif tagged != head:
        found.append(f"tag {ref!r} points at {tagged[:10]}, not at the commit checked out ({(head or '?')[:10]})")
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        found.append("the work tree has uncommitted changes: commit them before tagging")

    canonical = setup_cell_source(setting)
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            cells = nbformat.read(path, as_version=4).cells
            first = cells[0] if cells else None
            if first is None or first.cell_type != "code" or first.source != canonical:
                found.append(f"{folder}/{path.name}: the first cell is not the canonical setup cell (make badges)")
            elif first.metadata.get("tags") != SETUP_TAGS:
                found.append(f"{folder}/{path.name}: the setup cell must carry the tags {SETUP_TAGS}")

    readme = (root / "README.md").read_text()
    try:
        if render_readme(readme, setting, root) != readme:
            found.append("README.md: the badges or the chapter table are out of date (make badges)")
    except ValueError as error:
        found.append(str(error))
    links = LINK.findall(readme)
    if "https://mybinder.org/v2/gh/" not in readme:
        found.append("README.md has no Binder link")
    for link in links:
        if not (link.startswith(f"{repository}/blob/{ref}/") or link.startswith(f"{repository}/{ref}?")):
            found.append(f"README.md links to {link!r}, not to {repository} at {ref}")
    return found


def main() -> int:
    found = problems()
    if found:
        print("not ready to release:")
        for problem in found:
            print(f"  - {problem}")
        return 1
    setting = settings()
    print(f"ready to release {setting['repository']}@{setting['ref']}: tag, badges and setup cells agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
