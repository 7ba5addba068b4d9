"""Colours and icons shared by the caption panels.

The panels show the core's own lint types (``curation.captions.issues.LintIssue`` with its
``Fix``); every caption change goes through the session (``DatasetSession``).
"""

from __future__ import annotations

from curation.captions.issues import SEVERITY_ORDER

__all__ = ["SEVERITY_ORDER", "severity_icon"]
SEVERITY_COLOURS = {"error": "#ff5c5c", "warning": "#f0b429", "info": "#5cb8ff"}
SEVERITY_BADGE = {"error": "#c9424a", "warning": "#b7791f", "info": "#3a78c2"}
VERDICT_COLOURS = {"good": "#3fae6a", "weak": "#d69e2e", "bad": "#d64545"}
DIFF_DEL = "#ff8a8a"
DIFF_DEL_BG = "#4a2329"
DIFF_ADD = "#8ce0a8"
DIFF_ADD_BG = "#1f3d2b"


def severity_icon(severity: str, size: int = 14):
    """A small filled circle (error), triangle (warning) or ring (info) as a ``QIcon``."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

    pm = QPixmap(size * 2, size * 2)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(SEVERITY_COLOURS.get(severity, "#9aa3af"))
    s = size * 2
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    if severity == "warning":
        p.drawPolygon(QPolygonF([QPointF(s / 2, 2), QPointF(s - 2, s - 3), QPointF(2, s - 3)]))
    elif severity == "error":
        p.drawEllipse(2, 2, s - 4, s - 4)
    else:
        p.drawEllipse(4, 4, s - 8, s - 8)
    p.setPen(QColor("#1b1e23"))
    font = p.font()
    font.setBold(True)
    font.setPixelSize(int(s * 0.6))
    p.setFont(font)
    glyph = {"error": "×", "warning": "!", "info": "i"}.get(severity, "?")
    p.drawText(
        pm.rect().adjusted(0, 3 if severity == "warning" else 0, 0, 0),
        Qt.AlignmentFlag.AlignCenter,
        glyph,
    )
    p.end()
    pm.setDevicePixelRatio(2.0)
    return QIcon(pm)
