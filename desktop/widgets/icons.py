"""Theme-aware icons: the SVGs in ``resources/icons`` drawn in the current theme's colour.

The icon files are drawn in one light grey (``#d7dbe2``); ``ThemedIconEngine`` swaps that for
the colour of the theme in use when it paints, so icons stay readable on the light theme and
follow a theme switch without rebuilding actions. Disabled icons are drawn faint (a third of
the opacity): Fusion's own greyed pixmap of a light icon on a dark bar looks enabled.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import QIcon, QIconEngine, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

SOURCE_COLOUR = "#d7dbe2"
ICON_COLOUR = {"dark": "#d7dbe2", "light": "#3a4150"}
DISABLED_OPACITY = 0.32


def current_theme() -> str:
    app = QApplication.instance()
    value = app.property("likeness_theme") if app is not None else None
    return value if value in ICON_COLOUR else "dark"


@lru_cache(maxsize=256)
def _renderer(svg: str, colour: str) -> QSvgRenderer:
    data = svg.replace(SOURCE_COLOUR, colour)
    return QSvgRenderer(QByteArray(data.encode("utf-8")))


class ThemedIconEngine(QIconEngine):
    def __init__(self, svg: str) -> None:
        super().__init__()
        self.svg = svg

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        renderer = _renderer(self.svg, ICON_COLOUR[current_theme()])
        painter.save()
        if mode == QIcon.Mode.Disabled:
            painter.setOpacity(painter.opacity() * DISABLED_OPACITY)
        renderer.render(painter, rect)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pm = QPixmap(size)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return pm

    def scaledPixmap(  # noqa: N802 (Qt override; high-DPI toolbars ask for this one)
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pm = self.pixmap(
            QSize(round(size.width() * scale), round(size.height() * scale)), mode, state
        )
        pm.setDevicePixelRatio(scale)
        return pm

    def clone(self) -> QIconEngine:
        return ThemedIconEngine(self.svg)


def themed_icon(svg_text: str) -> QIcon:
    return QIcon(ThemedIconEngine(svg_text))
