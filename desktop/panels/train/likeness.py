"""Live likeness on the Train tab: every preview sample scored for identity, off the GUI thread.

``LikenessFeed`` (Qt-free) holds the samples still to score; ``score_next`` scores one (the slow
part: face detection and embedding, ~0.1-1 s per image) through ``ProcessScore``: the run's
``training.grid.live.LikenessTracker`` lives in one spawned worker process, because dlib's
detector holds the GIL and would stall the GUI thread from a mere thread. ``LikenessScorer``
runs ``score_next`` on one worker thread (jobs serialised, waiting on the process) and hands each new curve back to the GUI thread through a
queued signal; ``reset`` (another run, another dataset) drops the old run's results by their
generation, ``stop`` ends the worker (window close). ``LikenessChart`` draws the curve with
QPainter: the mean identity per step (a line) and the fraction of samples that copy a training
image (bars), the values under the mouse, and a plain note for errors (no face embedder,
unreadable samples).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

log = logging.getLogger(__name__)


ScoreFn = Callable[[Path, int, str, int], tuple[list[dict[str, Any]], str]]


class ProcessScore:
    """``training.grid.live.score_sample`` in one worker process (spawned on first use): dlib's
    face detection holds the GIL for ~0.5 s per image, a thread would stall the GUI."""

    def __init__(self) -> None:
        self._pool: Any = None

    def __call__(self, dataset: Path, run_key: int, path: str, step: int) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from training.grid.live import score_sample

        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool.submit(score_sample, str(dataset), run_key, path, step).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class LikenessFeed:
    """The samples to score for the current run (thread-safe, no Qt)."""

    def __init__(self, score: ScoreFn | None = None) -> None:
        self.score: ScoreFn = score or ProcessScore()
        self._lock = threading.Lock()
        self.generation = 0
        self.dataset: Path | None = None
        self._pending: deque[tuple[int, int, str]] = deque()  # generation, step, path
        self._seen: set[str] = set()

    def reset(self, dataset: Path | None) -> int:
        """A new run (or dataset): forget the samples and the scores; returns the generation."""
        with self._lock:
            self.generation += 1
            self.dataset = Path(dataset) if dataset is not None else None
            self._pending.clear()
            self._seen.clear()
            return self.generation

    def add(self, path: str, step: int) -> bool:
        """Queue a sample once (a replayed event is not scored twice)."""
        with self._lock:
            if self.dataset is None or not path or path in self._seen:
                return False
            self._seen.add(path)
            self._pending.append((self.generation, int(step), path))
            return True

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def score_next(self) -> tuple[int, list[dict[str, Any]], str] | None:
        """Score one queued sample (slow: call it off the GUI thread).

        Returns ``(generation, curve, note)`` or None when nothing is queued; the note says
        why there is no identity (no embedder, no face in the dataset) or which samples
        could not be read."""
        with self._lock:
            if not self._pending:
                return None
            gen, step, path = self._pending.popleft()
            dataset = self.dataset
            if gen != self.generation or dataset is None:
                return None
        try:
            curve, note = self.score(dataset, gen, path, step)
        except Exception as exc:  # noqa: BLE001 - a note on the chart, never a crash
            if gen != self.generation:  # stopped or another run meanwhile
                return None
            log.warning("likeness of %s: %s", path, exc)
            return gen, [], f"likeness unavailable: {exc}"
        return gen, curve, note

    def close(self) -> None:
        close = getattr(self.score, "close", None)
        if close is not None:
            close()


class LikenessScorer(QObject):
    """Scores the feed on one worker thread; ``updated`` arrives on the GUI thread."""

    updated = Signal(object, str)  # curve (list of dicts), note
    _relay = Signal(int, object, str)  # from the worker thread; queued to the GUI thread

    def __init__(self, feed: LikenessFeed | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.feed = feed or LikenessFeed()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    def reset(self, dataset: Path | None) -> None:
        self.feed.reset(dataset)
        self.updated.emit([], "")

    def add(self, path: str, step: int) -> None:
        if self._stop.is_set() or not self.feed.add(path, step):
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="likeness", daemon=True)
            self._thread.start()
        self._wake.set()

    @property
    def idle(self) -> bool:
        return self.feed.pending == 0 and not self._busy.is_set()

    def stop(self, wait_s: float = 2.0) -> None:
        """End the worker (the image being scored finishes; the queue is dropped)."""
        self._stop.set()
        self.feed.reset(None)
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait_s)
        self.feed.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.is_set():
                self._busy.set()
                try:
                    if self.feed.pending == 0:
                        break
                    out = self.feed.score_next()
                finally:
                    self._busy.clear()
                if out is not None and not self._stop.is_set():
                    try:
                        self._relay.emit(*out)
                    except RuntimeError:  # the page is gone (window closed under us)
                        return

    def _deliver(self, generation: int, curve: list[dict[str, Any]], note: str) -> None:
        if generation == self.feed.generation and not self._stop.is_set():
            self.updated.emit(curve, note)


class LikenessChart(QWidget):
    """Identity per step (line, 0-1) and copy fraction per step (bars), hover values."""

    MARGIN = (40, 12, 12, 24)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.setMinimumWidth(220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.points: list[dict[str, Any]] = []
        self.note = ""
        self.total_steps: int | None = None
        self.hover: dict[str, Any] | None = None

    def set_curve(self, curve: list[dict[str, Any]], note: str = "") -> None:
        self.points = sorted(curve, key=lambda c: c["step"])
        self.note = note
        self.hover = None
        self.update()

    def set_total(self, total: int | None) -> None:
        if total != self.total_steps:
            self.total_steps = total
            self.update()

    def _plot(self) -> QRectF:
        left, top, right, bottom = self.MARGIN
        return QRectF(
            left, top, max(1, self.width() - left - right), max(1, self.height() - top - bottom)
        )

    def _xmax(self) -> float:
        return float(max(self.points[-1]["step"] if self.points else 1, self.total_steps or 0, 1))

    def _x(self, step: float) -> float:
        plot = self._plot()
        return plot.left() + step / self._xmax() * plot.width()

    def _yv(self, v: float) -> float:
        plot = self._plot()
        return plot.bottom() - max(0.0, min(1.0, v)) * plot.height()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1b1f24"))
        plot = self._plot()
        painter.setPen(QPen(QColor("#3a414b")))
        painter.drawRect(plot)
        painter.setPen(QColor("#aeb6c2"))
        painter.drawText(4, int(plot.top()) + 10, "1.0")
        painter.drawText(4, int(plot.bottom()), "0")
        painter.drawText(int(plot.left()), self.height() - 6, "0")
        painter.drawText(int(plot.right()) - 40, self.height() - 6, f"{int(self._xmax())}")
        if self.note:
            painter.setPen(QColor("#e0b060"))
            painter.drawText(
                plot.adjusted(6, 0, -6, -4),
                int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft)
                | int(Qt.TextFlag.TextWordWrap),
                self.note,
            )
        if not self.points:
            painter.setPen(QColor("#aeb6c2"))
            painter.drawText(
                plot, Qt.AlignmentFlag.AlignCenter, "the likeness of the samples appears here"
            )
            return
        bar = max(3.0, plot.width() / max(len(self.points), 1) * 0.4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(230, 90, 90, 150))
        for c in self.points:
            if c.get("copy"):
                x = self._x(c["step"])
                top = self._yv(c["copy"])
                painter.drawRect(QRectF(x - bar / 2, top, bar, plot.bottom() - top))
        path = QPainterPath()
        first = True
        dots = []
        for c in self.points:
            if c.get("identity") is None:
                continue
            q = QPointF(self._x(c["step"]), self._yv(c["identity"]))
            dots.append(q)
            if first:
                path.moveTo(q)
                first = False
            else:
                path.lineTo(q)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor("#6fd08c"), 2))
        painter.drawPath(path)
        painter.setPen(QPen(QColor("#6fd08c"), 6))
        painter.drawPoints(dots)
        painter.setPen(QColor("#ffffff" if self.hover is not None else "#aeb6c2"))
        painter.drawText(
            int(plot.left()) + 6,
            int(plot.top()) + 14,
            hover_text(self.hover)
            if self.hover is not None
            else "likeness per step (line) · copies of training images (bars)",
        )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.hover = self.nearest(event.position().x())
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.hover = None
        self.update()

    def nearest(self, x: float) -> dict[str, Any] | None:
        if not self.points:
            return None
        return min(self.points, key=lambda c: abs(self._x(c["step"]) - x))


def hover_text(c: dict[str, Any]) -> str:
    ident = f"{c['identity']:.2f}" if c.get("identity") is not None else "no face"
    return (
        f"step {c['step']}: likeness {ident}, copies {c.get('copy', 0):.0%} "
        f"({c.get('faces_found', 0)}/{c.get('samples', 0)} with a face)"
    )
