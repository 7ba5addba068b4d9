"""Plain data and helpers shared by the caption panels (no widgets here).

``Mark`` is one lint finding as the GUI shows it (rule, severity, message, span, optional
``Fix``); ``core_api`` turns the core's issue objects into marks, so the widgets never depend on
the core's classes. ``apply_step`` writes caption changes as ONE workspace undo step and tells
the session, the same way the shell's bulk edit does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOURS = {"error": "#ff5c5c", "warning": "#f0b429", "info": "#5cb8ff"}
SEVERITY_BADGE = {"error": "#c9424a", "warning": "#b7791f", "info": "#3a78c2"}
VERDICT_COLOURS = {"good": "#3fae6a", "weak": "#d69e2e", "bad": "#d64545"}
DIFF_DEL = "#ff8a8a"
DIFF_DEL_BG = "#4a2329"
DIFF_ADD = "#8ce0a8"
DIFF_ADD_BG = "#1f3d2b"


@dataclass(frozen=True)
class Fix:
    """Replace ``text[start:end]`` with ``replacement``; ``label`` names it in menus."""

    label: str
    start: int
    end: int
    replacement: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]


@dataclass(frozen=True)
class Mark:
    """One lint finding on one caption (``rel``), or on the dataset when ``rel`` is ""."""

    rule: str
    severity: str
    message: str
    start: int = 0
    end: int = 0
    fix: Fix | None = None
    rel: str = ""

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.get(self.severity, 3)

    def covers(self, pos: int) -> bool:
        """True when the cursor position ``pos`` is inside (or at the edge of) the span."""
        if self.start == self.end:
            return pos == self.start
        return self.start <= pos <= self.end


def apply_fixes(text: str, fixes: Iterable[Fix]) -> str:
    """Apply non-overlapping fixes (right to left); a fix overlapping a later one is skipped."""
    out = text
    limit = len(text) + 1
    for fix in sorted(fixes, key=lambda f: (f.start, f.end), reverse=True):
        if fix.end > limit or fix.start > len(text):
            continue
        out = fix.apply(out)
        limit = fix.start
    return _tidy(out)


def _tidy(text: str) -> str:
    """Collapse the ", ," and doubled spaces a span removal leaves behind."""
    import re

    out = re.sub(r"\s*,\s*(,\s*)+", ", ", text)
    out = re.sub(r"[ \t]+,", ",", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"^\s*,\s*", "", out)
    out = re.sub(r"\s*,\s*$", "", out)
    return out.strip() if text == text.strip() else out


def apply_step(session, changes: Mapping[str, str], label: str, origin: str = "bulk"):
    """Write ``{rel: new_text}`` as ONE undo step through the workspace; returns the
    ``SaveResult`` (None when nothing is open). The session's listeners (grid, editor, undo
    actions) are told, exactly as for a bulk edit."""
    ws = session.workspace
    if ws is None or not changes:
        return None
    if origin == "bulk" and hasattr(session, "apply_changes"):
        return session.apply_changes(dict(changes), label=label)
    result = ws.apply_changes(dict(changes), origin=origin, label=label)
    notify_session(session, result)
    return result


def notify_session(session, result) -> None:
    """Tell the session's listeners about a caption step made on its workspace."""
    rels = list(result.written) + [i.path for i in result.pending]
    if rels:
        session.captions_changed.emit(rels)
    session.history_changed.emit()
    if result.pending:
        session.notify.emit(
            "error",
            f"{len(result.pending)} captions could not be written and are kept pending: "
            f"{result.pending[0].error}",
        )
    elif result.written:
        session.notify.emit("info", f"Applied “{result.label}” ({len(result.written)} captions)")


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
