"""``likeness gui [DIR]`` (and plain ``likeness``): open the desktop app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gui",
        help="open the desktop app (on DIR if given)",
        description="Open the Likeness desktop app, optionally on a dataset folder.",
    )
    p.add_argument("dir", nargs="?", metavar="DIR", help="dataset folder to open")
    p.set_defaults(func=_cmd_gui)


def _cmd_gui(args: argparse.Namespace) -> int:
    return open_gui(args.dir)


def open_gui(dir_or_none: str | None) -> int:
    """Run the GUI until it is closed. Exit code 2 when DIR is not a folder."""
    if dir_or_none is not None:
        path = Path(dir_or_none).expanduser()
        if not path.is_dir():
            print(f"likeness: not a folder: {path}", file=sys.stderr)
            return 2
        dir_or_none = str(path.resolve())
    from desktop.app import run

    return run(dir_or_none)
