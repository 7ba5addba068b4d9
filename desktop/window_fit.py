"""Keep the main window on its screen: default size, restored geometry, screen changes.

A window wider or taller than its screen loses its docks off the edge. ``fit_rect`` is the
pure rule; ``ScreenFit`` applies it when the window is first placed, after geometry is
restored from another (bigger) screen, and whenever the window moves to another screen or the
screen itself changes size (resolution, scaling).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QRect, QSize, Qt
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QToolBar, QWidget

log = logging.getLogger(__name__)

PREFERRED = QSize(1400, 880)  # the size the window opens at where the screen has room
SCREEN_SHARE = 0.92  # at most this much of a screen by default, so it never looks maximised


def default_rect(available: QRect, preferred: QSize = PREFERRED) -> QRect:
    """The preferred size, or SCREEN_SHARE of the screen where it is smaller, centred."""
    w = min(preferred.width(), int(available.width() * SCREEN_SHARE))
    h = min(preferred.height(), int(available.height() * SCREEN_SHARE))
    r = QRect(0, 0, w, h)
    r.moveCenter(available.center())
    return r


def fit_rect(frame: QRect, available: QRect) -> QRect:
    """``frame`` shrunk to ``available`` where larger and moved inside it where off-screen."""
    w = min(frame.width(), available.width())
    h = min(frame.height(), available.height())
    x = min(max(frame.x(), available.x()), available.x() + available.width() - w)
    y = min(max(frame.y(), available.y()), available.y() + available.height() - h)
    return QRect(x, y, w, h)


class ScreenFit(QObject):
    """Keeps ``window`` (a top-level widget) inside the available area of its screen."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self._screen: QScreen | None = None

    def place_default(self) -> None:
        """Size and centre the window for the screen it will open on."""
        screen = self.window.screen()
        rect = default_rect(screen.availableGeometry())
        self.window.resize(rect.size())
        self.window.move(rect.topLeft())

    def attach(self) -> None:
        """Follow the window's screen from now on (call once its native window exists)."""
        handle = self.window.windowHandle()
        if handle is not None:
            handle.screenChanged.connect(self._on_screen_changed)
        self._watch(self.window.screen())

    def fit(self) -> None:
        """Shrink and move the window so its frame lies inside the screen's available area."""
        win = self.window
        if win.isMaximized() or win.isFullScreen():
            return
        available = win.screen().availableGeometry()
        frame = win.frameGeometry()
        inner = win.geometry()
        # the frame (title bar, borders) adds to the inner geometry; fit the frame
        dw, dh = frame.width() - inner.width(), frame.height() - inner.height()
        target = fit_rect(frame, available)
        if target == frame:
            return
        log.debug("window %s does not fit screen %s: now %s", frame, available, target)
        win.resize(max(1, target.width() - dw), max(1, target.height() - dh))
        win.move(target.topLeft())  # move() places the frame's top-left corner

    def _watch(self, screen: QScreen | None) -> None:
        if self._screen is not None:
            try:
                self._screen.availableGeometryChanged.disconnect(self._on_area_changed)
            except (RuntimeError, TypeError):
                pass
        self._screen = screen
        if screen is not None:
            screen.availableGeometryChanged.connect(self._on_area_changed)

    def _on_screen_changed(self, screen: QScreen | None) -> None:
        self._watch(screen)
        self.fit()

    def _on_area_changed(self, _rect: QRect) -> None:
        self.fit()


TOOLBAR_STYLES = {
    "beside": Qt.ToolButtonStyle.ToolButtonTextBesideIcon,
    "under": Qt.ToolButtonStyle.ToolButtonTextUnderIcon,
    "none": Qt.ToolButtonStyle.ToolButtonIconOnly,
}


class ToolbarFit:
    """Text beside the toolbar's icons where the window is wide enough for every button,
    else text under them (narrower), so no button hides behind the toolbar's » menu."""

    def __init__(self, window: QWidget, toolbar: QToolBar) -> None:
        self.window = window
        self.toolbar = toolbar
        self._beside_width = 0

    def reset(self) -> None:
        """Measure again (the preference or the set of actions changed)."""
        self._beside_width = 0

    def fit(self, preference: str) -> None:
        tb = self.toolbar
        style = TOOLBAR_STYLES.get(preference, TOOLBAR_STYLES["beside"])
        if preference == "beside":
            if not self._beside_width:
                tb.setToolButtonStyle(style)
                self._beside_width = tb.sizeHint().width()
            if self._beside_width > self.window.width():
                style = Qt.ToolButtonStyle.ToolButtonTextUnderIcon
        if tb.toolButtonStyle() != style:
            tb.setToolButtonStyle(style)
