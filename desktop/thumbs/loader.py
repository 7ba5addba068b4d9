"""Decode thumbnails off the GUI thread, visible tiles first.

The grid tells the loader which tiles are on screen (``request_visible``, which replaces the
previous request, so tiles scrolled past are dropped) and may queue every other tile for a
low-priority background fill of the disk cache (``request_background``). A generation
counter, bumped by ``reset`` when the folder or the size changes, makes results of stale
requests be ignored. A worker takes background tiles a batch at a time (one cache lookup for
the batch) and serves on-screen requests that arrive between two of them. Workers are
``QRunnable``s on a private ``QThreadPool``; results reach the GUI thread through queued
signals as ``QImage`` (never ``QPixmap`` off the GUI thread).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict, deque
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop.thumbs.cache import ThumbnailCache, ThumbnailError

log = logging.getLogger(__name__)

# background tiles a worker takes at once: their cache lookup is one query, and a worker
# still serves on-screen requests between two of them
FILL_BATCH = 32


def pil_to_qimage(image) -> QImage:
    """An owned RGB888 ``QImage`` copy of a PIL RGB image (safe to send across threads)."""
    data = image.tobytes()
    qimg = QImage(data, image.width, image.height, 3 * image.width, QImage.Format.Format_RGB888)
    return qimg.copy()


class _Worker(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader
        self.setAutoDelete(True)

    def run(self) -> None:
        self.loader._work_loop()


class ThumbnailLoader(QObject):
    """Queue of thumbnail requests served by a few worker threads."""

    # generation, key, image, cache key of the thumbnail (path + size + mtime)
    thumbnail_ready = Signal(int, str, QImage, str)
    # generation, key, error text
    thumbnail_failed = Signal(int, str, str)
    # generation, done, total (background fill of the disk cache)
    background_progress = Signal(int, int, int)
    # generation: every on-screen request has been served (sent after its last image)
    visible_drained = Signal(int)

    def __init__(
        self,
        cache: ThumbnailCache | None = None,
        threads: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache = cache or ThumbnailCache()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads or max(2, os.cpu_count() or 2))
        self.max_pixels: int | None = None  # None: the core default (Preferences)
        self._lock = threading.Lock()
        self._generation = 0
        self._bucket = 256
        self._visible: OrderedDict[str, Path] = OrderedDict()
        self._background: deque[tuple[str, Path]] = deque()
        self._done: set[str] = set()
        self._bg_total = 0
        self._bg_done = 0
        self._running = 0
        self._visible_running = 0

    @property
    def generation(self) -> int:
        return self._generation

    def reset(self, bucket: int | None = None) -> int:
        """Drop every queued request; results still in flight will be ignored."""
        with self._lock:
            self._generation += 1
            if bucket:
                self._bucket = bucket
            self._visible.clear()
            self._background.clear()
            self._done.clear()
            self._bg_total = self._bg_done = 0
            self._visible_running = 0
            return self._generation

    def request_visible(self, items: list[tuple[str, Path]]) -> None:
        """Replace the on-screen request with ``items`` (key, path), in display order."""
        with self._lock:
            self._visible = OrderedDict((k, p) for k, p in items)
        self._spawn()

    def request_background(self, items: list[tuple[str, Path]]) -> None:
        """Queue ``items`` to be cached on disk at low priority (no image is sent back)."""
        with self._lock:
            self._background.extend(items)
            self._bg_total += len(items)
        self._spawn()

    def pending(self) -> int:
        with self._lock:
            return len(self._visible) + len(self._background) + self._running

    def wait_idle(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)

    def shutdown(self) -> None:
        self.reset()
        self.pool.waitForDone(5000)
        self.cache.flush()

    # -- worker side --------------------------------------------------------------------
    def _spawn(self) -> None:
        with self._lock:
            work = len(self._visible) + len(self._background)
            want = min(self.pool.maxThreadCount(), work) - self._running
            self._running += max(0, want)
        for _ in range(max(0, want)):
            self.pool.start(_Worker(self))

    def _next(self) -> tuple[int, int, list[tuple[str, Path]], bool] | None:
        """The next job: one on-screen tile, or up to ``FILL_BATCH`` background ones."""
        skipped = False
        with self._lock:
            gen = self._generation
            if self._visible:
                key, path = self._visible.popitem(last=False)
                self._visible_running += 1
                return gen, self._bucket, [(key, path)], True
            batch: list[tuple[str, Path]] = []
            # share what is left among the workers (a small folder keeps every core busy)
            size = min(FILL_BATCH, -(-len(self._background) // self.pool.maxThreadCount()))
            while self._background and len(batch) < size:
                key, path = self._background.popleft()
                if key in self._done:  # already decoded because it was on screen
                    self._bg_done += 1
                    skipped = True
                    continue
                batch.append((key, path))
            if not batch:
                self._running -= 1
            done, total = self._bg_done, self._bg_total
        if skipped and total:
            self.background_progress.emit(gen, min(done, total), total)
        return (gen, self._bucket, batch, False) if batch else None

    def _next_visible(self) -> tuple[int, int, str, Path] | None:
        with self._lock:
            if not self._visible:
                return None
            key, path = self._visible.popitem(last=False)
            self._visible_running += 1
            return self._generation, self._bucket, key, path

    def _work_loop(self) -> None:
        while True:
            job = self._next()
            if job is None:
                self.cache.flush()  # idle: the batch still in memory goes to disk
                return
            gen, bucket, items, visible = job
            if visible:
                self._serve(gen, bucket, *items[0])
            else:
                self._fill(gen, bucket, items)

    def _serve(self, gen: int, bucket: int, key: str, path: Path) -> None:
        """One on-screen tile: from the cache or decoded, sent to the GUI as a QImage."""
        try:
            thumb = self.cache.get(path, bucket, self.max_pixels)
        except ThumbnailError as exc:
            self._finish(gen, key, True)
            self.thumbnail_failed.emit(gen, key, str(exc))
        except Exception as exc:  # a bug must not kill the worker or the app
            log.exception("thumbnail of %s failed", path)
            self._finish(gen, key, True)
            self.thumbnail_failed.emit(gen, key, f"cannot read: {exc}")
        else:
            self._finish(gen, key, True)
            if thumb is not None and gen == self._generation:
                self.thumbnail_ready.emit(gen, key, pil_to_qimage(thumb.image), thumb.key)
        if self._visible_served(gen):  # after its image was sent
            self.visible_drained.emit(gen)

    def _fill(self, gen: int, bucket: int, items: list[tuple[str, Path]]) -> None:
        """Store the thumbnails of a batch of background tiles that are not cached yet (one
        lookup for the batch); on-screen requests that arrive meanwhile go first."""
        keys = self.cache.missing([path for _key, path in items], bucket)
        for (key, path), cache_key in zip(items, keys, strict=True):
            while (tile := self._next_visible()) is not None:
                self._serve(*tile)
            if gen != self._generation:  # reset: the rest of the batch is stale
                return
            with self._lock:
                done = key in self._done  # shown (so cached) since the batch was taken
            if cache_key is not None and not done:
                try:
                    self.cache.build(path, bucket, cache_key, self.max_pixels)
                except ThumbnailError as exc:
                    self._finish(gen, key, False)
                    self.thumbnail_failed.emit(gen, key, str(exc))
                    continue
                except Exception as exc:  # a bug must not kill the worker or the app
                    log.exception("thumbnail of %s failed", path)
                    self._finish(gen, key, False)
                    self.thumbnail_failed.emit(gen, key, f"cannot read: {exc}")
                    continue
            self._finish(gen, key, False)

    def _visible_served(self, gen: int) -> bool:
        """One on-screen request answered; True when it was the last one in flight."""
        with self._lock:
            if gen != self._generation:
                return False
            self._visible_running -= 1
            return self._visible_running <= 0 and not self._visible

    def _finish(self, gen: int, key: str, visible: bool) -> None:
        with self._lock:
            if gen != self._generation:
                return
            self._done.add(key)
            if not visible:
                self._bg_done += 1
            done, total = self._bg_done, self._bg_total
        if not visible and total and (done % 50 == 0 or done >= total):
            self.background_progress.emit(gen, min(done, total), total)
