"""A learner's own copy of the workbooks, made once and never overwritten.

    python -m superpose_lib workspace DIR        # or: make workspace DIR=...   (make lab uses workspace/)

The first run copies every workbook into DIR. A later run (for example after a course update brings a new
chapter) copies only the workbooks DIR does not have yet, and lists the ones it kept as they were. A file is
created only where no file, folder or link of that name exists, so nothing of the learner's is ever replaced.

Every copy is atomic: the workbook is written to a temporary file in DIR, flushed to disk, and only then given
its name (`write_atomically`). A copy cut short (a full disk, a killed process) therefore leaves either no
workbook or a whole one, never a truncated file that later runs would keep as the learner's. A workbook that
could not be written is listed in the report's `failed`, and the command exits non-zero.

The workbooks ship inside the package (`superpose_lib/workbooks` in a wheel, so a pip or Colab install has
them) and come from the checkout's `exercises/` folder in an editable install.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import _validate

_PATH = _validate.Instance(str, os.PathLike, what="path (a string or a pathlib.Path)")

_PACKAGE = Path(__file__).resolve().parent


@dataclass
class WorkspaceReport:
    """What `create_workspace` did: the folder, the workbooks it copied, those it kept untouched, and those it
    could not write (name → reason)."""

    directory: Path
    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"workspace: {self.directory}"]
        if self.copied:
            lines.append(f"copied {len(self.copied)} workbook(s): {', '.join(self.copied)}")
        if self.kept:
            lines.append(
                f"kept {len(self.kept)} file(s) that were already there, untouched: {', '.join(self.kept)}"
                "\n  (to get a fresh copy of one, rename or move yours and run this again)"
            )
        if not self.copied and not self.kept and not self.failed:
            lines.append("no workbooks found to copy")
        return "\n".join(lines)

    def errors(self) -> list[str]:
        """One line per reason a workbook could not be written, naming the workbooks (empty if none failed)."""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.failed.items():
            by_reason.setdefault(reason, []).append(name)
        return [
            f"could not write {len(names)} workbook(s) into {self.directory} ({reason}): {', '.join(names)}"
            for reason, names in by_reason.items()
        ]


@_validate.arguments(error=_validate.Instance(OSError))
def describe(error: OSError) -> str:
    """A short reason for an OS error ("permission denied", "no space left on device"), without a traceback."""
    return (error.strerror or str(error) or type(error).__name__).lower()


@_validate.arguments(path=_PATH, data=_validate.Instance(bytes), overwrite=_validate.Flag())
def write_atomically(path, data: bytes, *, overwrite: bool) -> bool:
    """Write `data` to the file `path` in one step: all of it or nothing.

    The bytes go to a temporary file in the same folder (a hidden `.NAME.*.partial`), are flushed to disk,
    and the file is then renamed to `path`; if anything fails on the way the temporary file is removed and the
    error is raised, and `path` is as it was. With `overwrite=False` an existing entry named `path` (a file, a
    folder, a link, even a dangling one) is never replaced: nothing is written and False is returned. Returns
    True when `path` was written.
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        return False
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.chmod(temporary, 0o644)  # mkstemp's 0o600 would hide the workbook from a shared group
        except OSError:  # FAT drives and some network shares have no modes to set: the file is fine as it is
            pass
        if overwrite:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # unlike a rename, a link never replaces an entry that appeared meanwhile
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links (some network or FAT drives)
            if os.path.lexists(path):
                return False
            os.rename(temporary, path)
        return True
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def workbooks_folder() -> Path:
    """The folder the workbooks are copied from: the packaged copy, else the checkout's `exercises/`."""
    for candidate in (_PACKAGE / "workbooks", _PACKAGE.parent / "exercises"):
        if any(candidate.glob("[0-9][0-9]_*.ipynb")):
            return candidate
    raise FileNotFoundError(
        "the course workbooks were not found: reinstall the course library "
        "(pip install the course, or `make setup` in a checkout)"
    )


def _workspace_folder(directory, source: Path) -> Path:
    """`directory` as a path with `~` expanded, checked: a folder that exists or can be made, not `source`."""
    if str(directory).strip() == "":
        raise ValueError("directory must name a folder for your workbooks, e.g. 'my-superpose'")
    try:
        directory = Path(directory).expanduser()
    except RuntimeError as error:  # "~" with no home folder known, or "~name" for an unknown user
        raise ValueError(f"directory {str(directory)!r}: cannot expand '~' ({error}); pass the full path") from None
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"directory must be a folder, but {directory} is a file: pass a new or existing folder")
    above = next((parent for parent in directory.parents if parent.exists()), None)
    if not directory.exists() and above is not None and not above.is_dir():
        raise ValueError(
            f"directory {directory} cannot be made, because {above} is a file, not a folder: "
            "pass a folder that is not inside a file"
        )
    if directory.exists() and directory.resolve() == source.resolve():
        raise ValueError(
            f"directory {directory} is where the workbooks are copied from: pass a folder of your own instead"
        )
    checkout = source.resolve().parent
    for cleaned in _cleaned_by_make_clean(checkout):
        if directory.resolve() == cleaned or cleaned in directory.resolve().parents:
            raise ValueError(
                f"directory {directory} is inside {cleaned.name}/, which `make clean` deletes: "
                "pass a folder of your own elsewhere (the default is workspace/)"
            )
    return directory


def _cleaned_by_make_clean(checkout: Path) -> list[Path]:
    """The folders the checkout's `make clean` removes (its `rm -rf` line); none outside a checkout."""
    try:
        makefile = (checkout / "Makefile").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    match = re.search(r"^clean:.*\n\trm -rf ([^\n]+)", makefile, flags=re.MULTILINE)
    return [checkout / name for name in match.group(1).split()] if match else []


@_validate.arguments(directory=_PATH, source=_validate.Optional(_PATH, none="None (workbooks_folder())"))
def create_workspace(directory, source=None) -> WorkspaceReport:
    """Copy every workbook (`NN_*.ipynb`) of `source` (default: `workbooks_folder()`) into `directory`.

    Creates `directory` if needed (`~` is expanded). A workbook whose name already exists in `directory` (as a
    file, a folder or a link) is kept as it is and listed in the report's `kept`; the others are copied, each
    atomically (`write_atomically`), and listed in `copied`; one that cannot be written (a read-only folder, a
    full disk, a course copy that cannot be read) is listed with the reason in `failed`, and the copy goes on
    with the next. Never overwrites, never deletes.

    Raises ValueError if `directory` is empty, is an existing file, lies below a file, or is the source folder
    itself, and OSError (with a one-line message) if the folder cannot be created.
    """
    source = workbooks_folder() if source is None else Path(source)
    directory = _workspace_folder(directory, source)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot create the folder {directory}: {describe(error)}") from None
    report = WorkspaceReport(directory=directory)
    for workbook in sorted(source.glob("[0-9][0-9]_*.ipynb")):
        target = directory / workbook.name
        if os.path.lexists(target):  # the learner's: kept without a look at the course's copy, which may be broken
            report.kept.append(workbook.name)
            continue
        try:
            data = workbook.read_bytes()
        except OSError as error:  # a folder or a dangling link where the course's workbook should be
            report.failed[workbook.name] = f"cannot read the course's copy in {source}: {describe(error)}"
            continue
        try:
            written = write_atomically(target, data, overwrite=False)
        except OSError as error:
            report.failed[workbook.name] = describe(error)
            continue
        (report.copied if written else report.kept).append(workbook.name)
    return report
