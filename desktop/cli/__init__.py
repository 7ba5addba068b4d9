"""The ``likeness`` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands (``set_defaults(func=...)``). Modules must import nothing heavy at top level:
``likeness --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Command-group modules, in the order their commands appear in --help.
COMMAND_MODULES = [
    "desktop.cli.cmd_gui",
    "desktop.cli.cmd_dataset",
    "desktop.cli.cmd_faces",
    "desktop.cli.cmd_captions",
    "desktop.cli.cmd_train",
    "desktop.cli.cmd_lora",
    "desktop.cli.cmd_comfyui",
    "desktop.cli.cmd_grid",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="likeness",
        description="Likeness: curate, caption and train character LoRAs for Z-Image-Turbo.",
    )
    parser.add_argument(
        "--headless",
        metavar="DIR",
        help="run the curation pipeline on DIR (scan, analyse, lint, report) without the GUI",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A reader that stops reading (``likeness scan --json | head``) ends
    the command quietly: the rest of the output is dropped, the work is done, exit 0."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        return 0
    return code


def _drop_stdout() -> None:
    """Point stdout at the null device, so that the flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.headless:
        from desktop.cli.headless import run_headless

        return run_headless(args.headless)
    if args.command is None:
        from desktop.cli.cmd_gui import open_gui

        return open_gui(None)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
