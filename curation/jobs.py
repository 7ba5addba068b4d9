"""Cancellation and progress plumbing shared by long-running core jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ProgressFn = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside a job when its cancel token was set."""


class CancelToken:
    """Thread-safe flag a GUI or CLI sets to stop a running job between items."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass
class ItemResult:
    """One item of a batch: a value or a per-item error, never an exception."""

    path: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def report(on_progress: ProgressFn | None, done: int, total: int, message: str = "") -> None:
    if on_progress is not None:
        on_progress(done, total, message)
