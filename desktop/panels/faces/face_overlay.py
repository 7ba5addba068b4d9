"""``FaceOverlay``: the detected face boxes drawn over the detail view's image.

Boxes are stored in original-image pixels; the viewer may show the thumbnail first and a
size-capped decode later, so the overlay scales them to whatever pixmap is in the scene
each time the image changes. The primary face gets a green box with the tier and pose, the
other faces a grey dashed one, landmarks small dots; a back-view candidate's person box is
dashed amber. Pens are cosmetic and labels ignore zoom, so they stay readable.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from desktop.panels.faces.badges import tooltip_for

PRIMARY = QColor("#4fe08a")
OTHER = QColor("#aeb6c2")
PERSON = QColor("#e0a84f")


class FaceOverlay:
    def __init__(self, viewer, image_for_rel) -> None:
        self.viewer = viewer
        self.image_for_rel = image_for_rel  # rel -> ImageAnalysis | None
        self.rel = ""
        self.enabled = True
        self.items: list[QGraphicsItem] = []
        viewer.image_loaded.connect(lambda _p: self.refresh())

    def set_rel(self, rel: str) -> None:
        self.rel = rel
        self.refresh()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self.refresh()

    def clear(self) -> None:
        scene = self.viewer.scene()
        for item in self.items:
            if item.scene() is scene:
                scene.removeItem(item)
        self.items = []

    def refresh(self) -> None:
        self.clear()
        if not self.rel:
            self.viewer.setToolTip("")
        if not self.enabled or not self.rel:
            return
        img: Any = self.image_for_rel(self.rel)
        self.viewer.setToolTip(tooltip_for(img) if img is not None else "")
        rect = self.viewer.sceneRect()
        if img is None or img.error is not None or not img.width or rect.width() <= 1:
            return
        scale = rect.width() / img.width
        for i, face in enumerate(img.faces):
            self._face(face, scale, primary=i == 0, label=_label(img) if i == 0 else "")
        if not img.faces and img.person_box:
            x, y, w, h = (v * scale for v in img.person_box)
            self._rect(QRectF(x, y, w, h), PERSON, Qt.PenStyle.DashLine)
            self._text(x, y, "person, no face: a back view?", PERSON)

    # -- drawing -----------------------------------------------------------------------
    def _face(self, face: Any, scale: float, primary: bool, label: str) -> None:
        x, y, w, h = (v * scale for v in face.box)
        colour = PRIMARY if primary else OTHER
        style = Qt.PenStyle.SolidLine if primary else Qt.PenStyle.DashLine
        self._rect(QRectF(x, y, w, h), colour, style)
        for px, py in face.landmarks or []:
            r = max(1.5, w * 0.015)
            dot = QGraphicsEllipseItem(px * scale - r, py * scale - r, 2 * r, 2 * r)
            dot.setPen(QPen(Qt.PenStyle.NoPen))
            dot.setBrush(QBrush(colour))
            self._add(dot)
        if label:
            self._text(x, y, label, colour)

    def _rect(self, rect: QRectF, colour: QColor, style: Qt.PenStyle) -> None:
        item = QGraphicsRectItem(rect)
        pen = QPen(colour, 2, style)
        pen.setCosmetic(True)
        item.setPen(pen)
        self._add(item)

    def _text(self, x: float, y: float, text: str, colour: QColor) -> None:
        bg = QGraphicsRectItem()
        item = QGraphicsSimpleTextItem(text)
        item.setBrush(QBrush(QColor("#0f1114")))
        bounds = item.boundingRect().adjusted(-4, -2, 4, 2)
        bg.setRect(bounds)
        bg.setBrush(QBrush(colour))
        bg.setPen(QPen(Qt.PenStyle.NoPen))
        item.setParentItem(bg)
        bg.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        bg.setPos(x + 4, y + 4)
        self._add(bg)

    def _add(self, item: QGraphicsItem) -> None:
        item.setZValue(10)
        self.viewer.scene().addItem(item)
        self.items.append(item)


def _label(img: Any) -> str:
    parts = []
    if img.tier:
        parts.append(img.tier.replace("-", " "))
    if img.pose:
        parts.append(img.pose)
    if img.face_height_ratio is not None:
        parts.append(f"{img.face_height_ratio:.2f}")
    return " · ".join(parts) or "face"
