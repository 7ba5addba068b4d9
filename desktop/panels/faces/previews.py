"""Pictures for the review screens: whole images and face crops, decoded off the GUI thread.

``ImageTile`` is a label that shows a placeholder, then the picture when the pool has
decoded it with the core's safe loader (reduced decode, never the full bomb).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from desktop.thumbs.loader import pil_to_qimage
from desktop.workers import Job, run_in_pool


def _decode(path: Path, side: int, box: tuple[float, float, float, float] | None) -> QImage:
    from curation.images import load_image

    draft = None if box is not None else (side, side)
    loaded = load_image(path, draft=draft, max_pixels=80_000_000)
    image = loaded.image
    if box is not None:
        info = loaded.info
        sx = image.width / info.width if info.width else 1.0
        x, y, w, h = (v * sx for v in box)
        m = 0.35 * max(w, h)  # some context around the face
        cx, cy, half = x + w / 2, y + h / 2, max(w, h) / 2 + m
        image = image.crop(
            (
                int(max(0, cx - half)),
                int(max(0, cy - half)),
                int(min(image.width, cx + half)),
                int(min(image.height, cy + half)),
            )
        )
    image = image.convert("RGB")
    image.thumbnail((side, side))
    return pil_to_qimage(image)


class ImageTile(QLabel):
    """A fixed-size picture: the whole image, or a face crop when ``box`` is given."""

    def __init__(self, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setFixedSize(QSize(side, side))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #14171b; border-radius: 8px; color: #6b7380;")
        self._job: Job | None = None
        self.loaded = False

    def show_path(self, path: Path | str, box: tuple[float, float, float, float] | None = None):
        if self._job is not None:
            self._job.stale = True
        self.loaded = False
        self.setPixmap(QPixmap())
        self.setText("loading…")
        side = self.side * max(1, int(self.devicePixelRatioF()))
        self._job = run_in_pool(
            lambda p=Path(path), s=side, b=box: _decode(p, s, b),
            on_done=self._on_done,
            on_error=lambda msg, _e: self.setText(f"cannot show:\n{msg}"),
        )

    def _on_done(self, image: QImage) -> None:
        self._job = None
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.setText("")
        self.setPixmap(pixmap)
        self.loaded = True
