"""Command line of the course library: `python -m superpose_lib workspace DIR`."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
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

    from .workspace import create_workspace

    try:
        report = create_workspace(arguments.directory)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
