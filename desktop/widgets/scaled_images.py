"""``ScaledImages``: pictures decoded at a bounded size off the GUI thread, kept in memory.

For tables of generated samples (the Train tab's gallery, the checkpoint grid): their PNGs
are often 1024 px or more and a PNG has no scaled decode (~30 ms each), so decoding a
hundred of them on the GUI thread froze the window for seconds. ``request`` answers at once
from memory (an image decoded before, keyed by path, size and mtime, so a file rewritten in
place is decoded again) or queues the decode on a small private pool and later emits
``ready(token, image, error)`` on the GUI thread. ``reset`` drops what is still queued and
the answers still in flight (another run, another layout). Higher ``priority`` first.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

Key = tuple[str, int, int]  # path, size, mtime_ns


def read_scaled(path: str | os.PathLike[str], side: int) -> tuple[QImage, str]:
    """The picture at ``path`` no larger than ``side`` (any thread), and "" or why not."""
    reader = QImageReader(str(path))
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return image, reader.errorString() or "cannot read"
    return image, ""


class _Relay(QObject):
    # generation, key, image, error (emitted from a pool thread: queued to the GUI thread)
    done = Signal(int, object, QImage, str)


class _Decode(QRunnable):
    def __init__(self, owner: ScaledImages, generation: int, key: Key) -> None:
        super().__init__()
        self.relay, self.side = owner._relay, owner.side
        self.generation, self.key = generation, key
        self.cancelled = owner._cancelled

    def run(self) -> None:
        if self.generation in self.cancelled:
            return
        image, error = read_scaled(self.key[0], self.side)
        self.relay.done.emit(self.generation, self.key, image, error)


class ScaledImages(QObject):
    ready = Signal(object, QImage, str)  # token, image (null on failure), error

    def __init__(
        self, side: int, threads: int = 2, keep: int = 512, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.side = side
        self.keep = keep
        self._cache: OrderedDict[Key, QImage] = OrderedDict()
        self._waiting: dict[Key, list[object]] = {}
        self._generation = 0
        self._cancelled: set[int] = set()  # read by pool threads (set membership is atomic)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)

    def request(
        self, token: object, path: str | os.PathLike[str], priority: int = 0
    ) -> QImage | None:
        """The picture now if it is in memory; else None and ``ready(token, ...)`` later."""
        try:
            st = os.stat(path)
        except OSError as exc:
            self.ready.emit(token, QImage(), exc.strerror or str(exc))
            return None
        key: Key = (str(Path(path)), st.st_size, st.st_mtime_ns)
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
            return image
        waiting = self._waiting.get(key)
        if waiting is not None:  # already queued: answer both when it is decoded
            waiting.append(token)
            return None
        self._waiting[key] = [token]
        self._pool.start(_Decode(self, self._generation, key), priority)
        return None

    def reset(self) -> None:
        """Forget what is queued; answers of earlier requests are not emitted."""
        self._cancelled.add(self._generation)
        self._generation += 1
        self._waiting.clear()
        self._pool.clear()  # not started yet: never run

    def pending(self) -> int:
        return len(self._waiting)

    def wait(self, msecs: int = 10000) -> bool:
        return self._pool.waitForDone(msecs)

    def _on_done(self, generation: int, key: Key, image: QImage, error: str) -> None:
        if generation != self._generation:
            return
        tokens = self._waiting.pop(key, [])
        if not image.isNull():
            self._cache[key] = image
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        for token in tokens:
            self.ready.emit(token, image, error)
