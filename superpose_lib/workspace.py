"""A learner's own copy of the workbooks, made once and never overwritten.

    python -m superpose_lib workspace DIR        # or: make workspace DIR=...

The first run copies every workbook into DIR. A later run (for example after a course update brings a new
chapter) copies only the workbooks DIR does not have yet, and lists the ones it kept as they were. A file is
created only where no file, folder or link of that name exists, and the check and the creation are one step
(exclusive creation), so nothing of the learner's is ever replaced.

The workbooks ship inside the package (`superpose_lib/workbooks` in a wheel, so a pip or Colab install has
them) and come from the checkout's `exercises/` folder in an editable install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@dataclass
class WorkspaceReport:
    """What `create_workspace` did: the folder, the workbooks it copied and those it kept untouched."""

    directory: Path
    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"workspace: {self.directory}"]
        if self.copied:
            lines.append(f"copied {len(self.copied)} workbook(s): {', '.join(self.copied)}")
        if self.kept:
            lines.append(
                f"kept {len(self.kept)} file(s) that were already there, untouched: {', '.join(self.kept)}"
                "\n  (to get a fresh copy of one, rename or move yours and run this again)"
            )
        if not self.copied and not self.kept:
            lines.append("no workbooks found to copy")
        return "\n".join(lines)


def workbooks_folder() -> Path:
    """The folder the workbooks are copied from: the packaged copy, else the checkout's `exercises/`."""
    for candidate in (_PACKAGE / "workbooks", _PACKAGE.parent / "exercises"):
        if any(candidate.glob("[0-9][0-9]_*.ipynb")):
            return candidate
    raise FileNotFoundError(
        "the course workbooks were not found: reinstall the course library "
        "(pip install the course, or `make setup` in a checkout)"
    )


def create_workspace(directory, source=None) -> WorkspaceReport:
    """Copy every workbook (`NN_*.ipynb`) of `source` (default: `workbooks_folder()`) into `directory`.

    Creates `directory` if needed. A workbook whose name already exists in `directory` (as a file, a folder
    or a link) is kept as it is and listed in the report's `kept`; the others are copied and listed in
    `copied`. Never overwrites, never deletes. Raises ValueError if `directory` is an existing file or is the
    source folder itself.
    """
    if directory is None or str(directory).strip() == "":
        raise ValueError("directory must name a folder for your workbooks, e.g. 'my-superpose'")
    directory = Path(directory).expanduser()
    source = workbooks_folder() if source is None else Path(source)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"directory must be a folder, but {directory} is a file: pass a new or existing folder")
    if directory.exists() and directory.resolve() == source.resolve():
        raise ValueError(
            f"directory {directory} is where the workbooks are copied from: pass a folder of your own instead"
        )
    directory.mkdir(parents=True, exist_ok=True)
    report = WorkspaceReport(directory=directory)
    for workbook in sorted(source.glob("[0-9][0-9]_*.ipynb")):
        target = directory / workbook.name
        try:
            # O_EXCL: fails if anything of that name exists (a dangling link included), in the same step
            # that would create the file, so an existing file is never opened for writing.
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            report.kept.append(workbook.name)
            continue
        with os.fdopen(descriptor, "wb") as out:
            out.write(workbook.read_bytes())
        report.copied.append(workbook.name)
    return report
