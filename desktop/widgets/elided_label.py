"""``ElidedLabel``: a one-line label that never widens its window.

A plain ``QLabel`` asks for the width of its whole text; a long file error or advice line
then pushes the main window past the screen. This label asks for little, draws its text
elided ("…") to the width it is given and shows the full text as its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QStyle, QStyleOption, QWidget

MIN_CHARS = 8  # the least it asks for, in average character widths


class ElidedLabel(QLabel):
    def __init__(
        self, text: str = "", parent: QWidget | None = None, min_chars: int = MIN_CHARS
    ) -> None:
        super().__init__(text, parent)
        self.min_chars = min_chars
        # shrinks down to minimumSizeHint (a few characters), grows up to the whole text
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._auto_tip = True
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt override)
        super().setText(text)
        if self._auto_tip:
            super().setToolTip(text if self.is_elided() or len(text) > 60 else "")

    def setToolTip(self, tip: str) -> None:  # noqa: N802 (Qt override)
        self._auto_tip = not tip
        super().setToolTip(tip)

    def elided_text(self) -> str:
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width())
        )

    def is_elided(self) -> bool:
        return self.elided_text() != self.text()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        fm = self.fontMetrics()
        m = self.contentsMargins()
        return QSize(
            fm.averageCharWidth() * self.min_chars + m.left() + m.right(),
            fm.height() + m.top() + m.bottom(),
        )

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        hint = super().sizeHint()
        return QSize(hint.width(), max(hint.height(), self.minimumSizeHint().height()))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        opt = QStyleOption()
        opt.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, opt, painter, self)
        rect = self.contentsRect()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment()), self.elided_text())
        painter.end()
