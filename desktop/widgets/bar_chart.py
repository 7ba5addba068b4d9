"""``BarChart``: a small painted horizontal bar chart (one bar per label), e.g. the delta norm
of each block of a LoRA. No data logic: give it ``[(label, value)]``."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW = 14
LABEL_W = 120
VALUE_W = 70


class BarChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_items(self, items: list[tuple[str, float]]) -> None:
        self.items = list(items)
        self.setMinimumHeight(self.sizeHint().height())
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, max(ROW, ROW * len(self.items) + 4))

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        pal = self.palette()
        top = max((v for _, v in self.items), default=0.0) or 1.0
        width = max(10, self.width() - LABEL_W - VALUE_W - 8)
        bar = QColor(pal.color(QPalette.ColorRole.Highlight))
        text = pal.color(QPalette.ColorRole.WindowText)
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        for i, (label, value) in enumerate(self.items):
            y = 2 + i * ROW
            painter.setPen(text)
            painter.drawText(
                QRectF(0, y, LABEL_W - 4, ROW),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                label,
            )
            length = width * max(0.0, value) / top
            painter.fillRect(QRectF(LABEL_W, y + 2, length, ROW - 4), bar)
            painter.drawText(
                QRectF(LABEL_W + length + 4, y, VALUE_W, ROW),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                f"{value:.3g}",
            )
        painter.end()
