"""``ImageViewer``: the large image with zoom (wheel, +/-, fit, 100 %) and pan (drag).

The full image is decoded off the GUI thread with the core's safe loader; the tile's
thumbnail is shown, scaled, until it arrives. A newer request makes older ones stale.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from desktop.thumbs.loader import pil_to_qimage
from desktop.workers import Job, run_in_pool

log = logging.getLogger(__name__)

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
STEP = 1.25


def _load_full(path: Path, max_pixels: int | None) -> tuple[QImage, str]:
    from curation.images import load_image

    loaded = load_image(path, max_pixels=max_pixels)
    info = loaded.info
    text = f"{info.width}x{info.height} {info.format} {info.mode}, {info.size_bytes / 1024:.0f} KB"
    if loaded.notes:
        text += " - " + "; ".join(loaded.notes)
    return pil_to_qimage(loaded.image.convert("RGB")), text


class ImageViewer(QGraphicsView):
    zoom_changed = Signal(float)
    image_info = Signal(str)  # "1024x1024 JPEG RGB, 200 KB" or the error text
    image_loaded = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setRenderHints(
            QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing
        )
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QColor("#15171b"))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setMinimumSize(200, 200)
        self.max_pixels: int | None = None
        self._fit = True
        self._job: Job | None = None
        self._path: Path | None = None
        self._full = False
        self._message = ""

    # -- content -------------------------------------------------------------------------
    def show_image(self, path: Path | None, preview: QPixmap | None = None) -> None:
        """Show ``path``: ``preview`` (the thumbnail) at once, the full image when decoded."""
        if self._job is not None:
            self._job.stale = True
            self._job = None
        self._path = path
        self._full = False
        self._message = ""
        if path is None:
            self._set_pixmap(QPixmap())
            return
        if preview is not None and not preview.isNull():
            self._set_pixmap(preview)
        else:
            self._set_pixmap(QPixmap())
        self._job = run_in_pool(
            lambda p=path, m=self.max_pixels: _load_full(p, m),
            on_done=self._on_loaded,
            on_error=self._on_error,
        )

    def has_full_image(self) -> bool:
        return self._full

    def _on_loaded(self, result: tuple[QImage, str]) -> None:
        image, text = result
        self._full = True
        self._set_pixmap(QPixmap.fromImage(image))
        self.image_info.emit(text)
        self.image_loaded.emit(str(self._path))

    def _on_error(self, message: str, _exc: BaseException) -> None:
        self._message = message
        self._set_pixmap(QPixmap())
        self.image_info.emit(message)
        self.viewport().update()

    def _set_pixmap(self, pixmap: QPixmap) -> None:
        old = self._item.pixmap().size()
        self._item.setPixmap(pixmap)
        self._scene.setSceneRect(QRectF(pixmap.rect()))
        if self._fit or old != pixmap.size():
            self.fit()

    # -- zoom ---------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        self._fit = False
        self.resetTransform()
        self.scale(factor, factor)
        self.zoom_changed.emit(factor)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        self._fit = True
        if self._item.pixmap().isNull():
            self.resetTransform()
            return
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta == 0 or self._item.pixmap().isNull():
            return
        factor = STEP if delta > 0 else 1 / STEP
        self.set_zoom(self.zoom() * factor)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if not self._message and self._path is not None:
            return
        text = self._message or "Select an image to see it here"
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor("#ff8a8a") if self._message else QColor("#7d8590"))
        painter.drawText(
            self.viewport().rect().adjusted(20, 20, -20, -20),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            text,
        )
        painter.restore()
