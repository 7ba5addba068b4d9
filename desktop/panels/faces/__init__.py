"""Face analysis in the GUI: background analysis, tile badges, face boxes, filters,
right-click overrides, the Balance dashboard, review screens and the export dialog.

``install(window)`` wires everything into a ``MainWindow`` through its public parts (session,
browser, status bar, menus) and returns the ``FacesPanel`` (kept on ``window.faces``).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject

log = logging.getLogger(__name__)


def install(window):
    """Add the face features to ``window``; returns the ``FacesPanel``."""
    from desktop.panels.faces.panel import FacesPanel

    panel = FacesPanel(window)
    window.faces = panel
    window.installEventFilter(_CloseWatcher(panel, window))
    return panel


class _CloseWatcher(QObject):
    """Stops the analysis thread when the window closes (before Qt destroys it)."""

    def __init__(self, panel, parent: QObject) -> None:
        super().__init__(parent)
        self.panel = panel

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close:
            self.panel.shutdown()
        return False


__all__ = ["install"]
