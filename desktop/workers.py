"""Run short I/O jobs (open a dataset, load a full-size image) off the GUI thread.

``run_in_pool(fn, on_done, on_error)`` runs ``fn()`` on a ``QThreadPool`` and calls
``on_done(result)`` or ``on_error(message, exception)`` back on the GUI thread. Jobs carry a
``Job`` handle; ``Job.stale`` lets a caller drop a result it no longer wants (the
generation-counter idiom: a newer request makes older ones stale).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

_live: set[Job] = set()


class _Signals(QObject):
    finished = Signal(object)
    failed = Signal(str, object)


class Job(QRunnable):
    """One function call on the pool; signals arrive on the thread that created the job."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = _Signals()
        self.stale = False

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.debug("job failed: %s\n%s", message, traceback.format_exc())
            self.signals.failed.emit(message, exc)
        else:
            self.signals.finished.emit(result)


def run_in_pool(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str, BaseException], None] | None = None,
    pool: QThreadPool | None = None,
) -> Job:
    """Start ``fn`` on ``pool`` (the global one by default) and return its ``Job``."""
    job = Job(fn)
    _live.add(job)

    def done(result: Any) -> None:
        _live.discard(job)
        if not job.stale and on_done is not None:
            on_done(result)

    def failed(message: str, exc: BaseException) -> None:
        _live.discard(job)
        if job.stale:
            return
        if on_error is not None:
            on_error(message, exc)
        else:
            log.error("Background job failed: %s", message)

    job.signals.finished.connect(done)
    job.signals.failed.connect(failed)
    (pool or QThreadPool.globalInstance()).start(job)
    return job
