"""JSON-lines events on stdout: the trainer's half of ``docs/trainer-protocol.md``.

``EventSink`` writes one JSON object per line and flushes it. The runner points it at a
duplicate of the real stdout and sends file descriptor 1 to stderr, so a stray ``print`` in a
library can never corrupt the event stream. Tests use ``ListSink`` to collect events in memory.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from training.protocol import PROTOCOL_VERSION, WARNING_CODES  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, paths become strings, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


class EventSink:
    """Writes events to a text stream, one JSON line each, thread-safe."""

    def __init__(
        self, stream: IO[str] | None = None, *, on_closed: Callable[[], None] | None = None
    ):
        self._stream = stream
        self._lock = threading.Lock()
        self._on_closed = on_closed  # called once when the reader of ``stream`` is gone
        self._tee: IO[str] | None = None

    def tee(self, stream: IO[str] | None) -> None:
        """Also append every event to ``stream`` (``<run>/events.jsonl``); None closes it."""
        with self._lock:
            if self._tee is not None:
                try:
                    self._tee.close()
                except OSError:
                    pass
            self._tee = stream

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, **_clean(fields)}
        line = json.dumps(record, ensure_ascii=False, allow_nan=False)
        closed = None
        with self._lock:
            if self._stream is not None:
                try:
                    self._stream.write(line + "\n")
                    self._stream.flush()
                except (OSError, ValueError):  # the reader went away; keep training
                    log.debug("event stream closed; dropped %s", line)
                    self._stream, closed, self._on_closed = None, self._on_closed, None
            if self._tee is not None:
                try:
                    self._tee.write(line + "\n")
                    self._tee.flush()
                except (OSError, ValueError) as exc:  # e.g. a full disk: the events go on
                    log.warning("cannot append to the events file: %s", exc)
                    self._tee = None
        if closed is not None:
            closed()
        if event in ("warning", "error"):
            log.log(logging.WARNING if event == "warning" else logging.ERROR, "%s", line)
        else:
            log.debug("%s", line)
        self.record(record)
        return record

    def record(self, record: dict[str, Any]) -> None:
        """Hook for subclasses that keep events."""

    # Shorthands, so the fields of each event live in one place.
    def started(self, **fields: Any) -> None:
        self.emit("started", protocol=PROTOCOL_VERSION, **fields)

    def status(self, message: str, **fields: Any) -> None:
        """``fields``: e.g. ``component`` and ``device`` when a model component is placed."""
        self.emit("status", message=message, **fields)

    def warning(self, message: str, code: str = "other", **extra: Any) -> None:
        self.emit("warning", message=message, code=code, **extra)

    def error(self, message: str, code: str, details: list[str] | None = None) -> None:
        self.emit("error", message=message, code=code, details=details or [])

    def cache_progress(self, stage: str, done: int, total: int) -> None:
        self.emit("cache_progress", stage=stage, done=done, total=total)


class ListSink(EventSink):
    """Keeps every event in ``events`` (and optionally writes them too)."""

    def __init__(self, stream: IO[str] | None = None):
        super().__init__(stream)
        self.events: list[dict[str, Any]] = []

    def record(self, record: dict[str, Any]) -> None:
        self.events.append(record)

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


class StepMeter:
    """Smoothed optimizer steps per second and the time left, for ``step`` events."""

    def __init__(self, total_steps: int, start_step: int, smoothing: float = 0.1):
        self.total = total_steps
        self.step = start_step
        self.smoothing = smoothing
        self._last = time.perf_counter()
        self._rate: float | None = None

    def tick(self, step: int) -> tuple[float | None, float | None]:
        now = time.perf_counter()
        elapsed = max(now - self._last, 1e-9)
        done = max(step - self.step, 1)
        rate = done / elapsed
        self._rate = (
            rate
            if self._rate is None
            else (1 - self.smoothing) * self._rate + (self.smoothing * rate)
        )
        self._last, self.step = now, step
        eta = (self.total - step) / self._rate if self._rate > 0 else None
        return self._rate, eta

    def reset_clock(self) -> None:
        """Call after a pause (sampling, saving) so it does not count as step time."""
        self._last = time.perf_counter()
