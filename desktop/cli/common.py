"""Small helpers shared by the CLI command modules (no heavy imports)."""

from __future__ import annotations

import sys


def err(message: str) -> None:
    """One clear line on stderr."""
    print(f"likeness: {message}", file=sys.stderr)


class Progress:
    """An ``on_progress(done, total, message)`` callback that draws a tqdm bar on stderr when
    it is a terminal, and stays silent otherwise (pipes, CI, JSON output)."""

    def __init__(self, desc: str, unit: str = "img", enabled: bool | None = None) -> None:
        self.bar = None
        if enabled if enabled is not None else sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc=desc, file=sys.stderr, unit=unit, leave=False)

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self.bar is None:
            return
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        if message:
            self.bar.set_postfix_str(message[:40], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def add_json_and_recursive(parser) -> None:
    """The ``--json`` and ``--no-recursive`` options most folder commands take."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-recursive", dest="recursive", action="store_false")


def open_workspace(dir_: str, recursive: bool, create: bool, scan_progress: bool = False):
    """``Workspace.open`` for a command: the workspace, or None after printing why.
    ``scan_progress`` draws a "scanning" bar on a terminal while it opens."""
    from curation.errors import DatasetError, WorkspaceError
    from curation.workspace import Workspace

    progress = Progress("scanning") if scan_progress else None
    try:
        return Workspace.open(dir_, recursive=recursive, create=create, on_progress=progress)
    except (DatasetError, WorkspaceError) as exc:
        err(str(exc))
        return None
    finally:
        if progress is not None:
            progress.close()


def report_file_problems(ws) -> None:
    """One stderr line per file the dataset cannot use as is (the messages of ``likeness
    scan``: skipped links, loops, FIFOs, undecodable names, unreadable captions)."""
    for problem in ws.file_problems():
        err(f"{problem.path}: {problem.error}")
