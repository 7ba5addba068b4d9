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
