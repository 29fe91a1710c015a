"""Command line of the course library: `python -m superpose_lib workspace DIR`."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    """Run the command; returns the exit status: 0 done, 1 a workbook or the folder could not be written, 2 a
    bad DIR. Every failure is one line on stderr starting with "error:", never a traceback."""
    parser = argparse.ArgumentParser(prog="python -m superpose_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    workspace = commands.add_parser(
        "workspace",
        help="copy the workbooks into a folder of your own (never overwrites a file that is there)",
        description="Copy the course workbooks into DIR. Run it again after a course update: it adds the "
        "workbooks DIR lacks and keeps every file already there exactly as it is.",
    )
    workspace.add_argument("directory", metavar="DIR", help="your folder for the workbooks (created if needed)")
    arguments = parser.parse_args(argv)

    from .workspace import create_workspace, describe

    try:
        report = create_workspace(arguments.directory)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the folder cannot be made, or the workbooks are missing from the install
        message = str(error) if error.errno is None else describe(error)
        print(f"error: {message}{f': {error.filename}' if error.filename else ''}", file=sys.stderr)
        return 1
    print(report.summary())
    for line in report.errors():
        print(f"error: {line}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
