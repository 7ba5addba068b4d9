"""Lint underlines in the caption editor, as you type.

``LintHighlighter`` attaches to the shell's ``CaptionEditor`` without changing it: wavy
underlines (extra selections, coloured by severity) a moment after typing stops, a tooltip
with the message on hover, the fixes at the top of the right-click menu, a lightbulb button
next to the problem under the cursor and Ctrl+. for the same quick-fix menu, and a compact
list of the caption's problems under the text. Fixes are applied through ``apply_fn`` (the
workspace history), so Ctrl+Z undoes them like any other edit.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QToolTip,
)

from curation.captions.issues import Fix, LintIssue, apply_fixes
from desktop.panels.captions.common import SEVERITY_COLOURS

log = logging.getLogger(__name__)

LintFn = Callable[[str, str], list[LintIssue]]  # (rel, text) -> marks
ApplyFn = Callable[[str, str, str], None]  # (rel, new_text, label)
MAX_LISTED = 2


class LintHighlighter(QObject):
    """Underlines, tooltips and quick fixes for one ``CaptionEditor``."""

    marks_changed = Signal(list)  # list[LintIssue] for the text now in the editor

    def __init__(self, editor, lint_fn: LintFn, apply_fn: ApplyFn, delay_ms: int = 200) -> None:
        super().__init__(editor)
        self.editor = editor
        self.edit: QPlainTextEdit = editor.edit
        self.lint_fn = lint_fn
        self.apply_fn = apply_fn
        self._marks: list[LintIssue] = []
        self._linted_text: str | None = None
        self._linted_rel = ""
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.relint)
        self.edit.textChanged.connect(self._schedule)
        self.edit.cursorPositionChanged.connect(self._update_bulb)
        self._viewport = self.edit.viewport()
        self._viewport.installEventFilter(self)
        self.edit.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.edit.customContextMenuRequested.connect(self._context_menu)
        self.bulb = QToolButton(self.edit.viewport())
        self.bulb.setObjectName("lintBulb")
        self.bulb.setIcon(bulb_icon())
        self.bulb.setIconSize(QSize(16, 16))
        self.bulb.setAutoRaise(True)
        self.bulb.setCursor(Qt.CursorShape.PointingHandCursor)
        self.bulb.setToolTip("Quick fix (Ctrl+.)")
        self.bulb.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.bulb.setStyleSheet(
            "QToolButton#lintBulb { background: #2d2a1e; border: 1px solid #6b5b26;"
            " border-radius: 10px; padding: 0px; }"
            "QToolButton#lintBulb:hover { background: #4d4426; }"
        )
        self.bulb.setFixedSize(20, 20)
        self.bulb.clicked.connect(self.show_quick_fix)
        self.bulb.hide()
        self.shortcut = QShortcut(QKeySequence("Ctrl+."), self.edit)
        self.shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.shortcut.activated.connect(self.show_quick_fix)
        self.issues = QLabel()
        self.issues.setObjectName("lintIssues")
        self.issues.setWordWrap(False)
        self.issues.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.issues.setTextFormat(Qt.TextFormat.RichText)
        self.issues.setStyleSheet(
            "QLabel#lintIssues { background: #191c21; border: 1px solid #2c313a;"
            " border-radius: 6px; padding: 4px 8px; color: #cfd5de; }"
        )
        self.issues.linkActivated.connect(self._on_link)
        self.issues.hide()
        lay = editor.layout()
        if lay is not None and lay.indexOf(self.edit) >= 0:
            lay.insertWidget(lay.indexOf(self.edit) + 1, self.issues)

    # -- linting -----------------------------------------------------------------------------
    @property
    def marks(self) -> list[LintIssue]:
        return list(self._marks)

    def _schedule(self) -> None:
        if self.editor.rel != self._linted_rel:
            self.relint()  # a new image: show its problems at once
        else:
            self.timer.start()

    def relint(self) -> list[LintIssue]:
        """Lint the editor's text now (normally called by the debounce timer)."""
        self.timer.stop()
        rel, text = self.editor.rel, self.edit.toPlainText()
        try:
            marks = self.lint_fn(rel, text) if rel else []
        except Exception:  # noqa: BLE001 - a lint bug must never break typing
            log.exception("Caption lint failed for %s", rel)
            marks = []
        self._marks = sorted(marks, key=lambda m: (m.start, m.rank))
        self._linted_text, self._linted_rel = text, rel
        self._paint()
        self._update_bulb()
        self._update_list()
        self.marks_changed.emit(self.marks)
        return self.marks

    def _fresh(self) -> list[LintIssue]:
        if self.timer.isActive() or self._linted_text != self.edit.toPlainText():
            return self.relint()
        return self._marks

    def _paint(self) -> None:
        selections = []
        doc_len = len(self.edit.toPlainText())
        for mark in sorted(self._marks, key=lambda m: -m.rank):  # errors painted last (on top)
            start, end = _visible_span(self.edit.toPlainText(), mark)
            if end <= start or start >= doc_len + 1:
                continue
            sel = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            colour = QColor(SEVERITY_COLOURS.get(mark.severity, "#9aa3af"))
            fmt.setUnderlineColor(colour)
            tint = QColor(colour)
            tint.setAlpha(38)
            fmt.setBackground(tint)
            sel.format = fmt
            cur = QTextCursor(self.edit.document())
            cur.setPosition(min(start, doc_len))
            cur.setPosition(min(end, doc_len), QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cur
            selections.append(sel)
        self.edit.setExtraSelections(selections)

    def _update_list(self) -> None:
        if not self._marks:
            self.issues.hide()
            return
        rows = []
        for i, m in enumerate(sorted(self._marks, key=lambda m: (m.rank, m.start))):
            if i == MAX_LISTED:
                rows[-1] = (
                    f"<span style='color:#8b93a0'>+{len(self._marks) - i} more</span> &nbsp;"
                    + rows[-1]
                )
                break
            colour = SEVERITY_COLOURS.get(m.severity, "#9aa3af")
            idx = self._marks.index(m)
            row = (
                f"<span style='color:{colour}'>●</span> "
                f"<a href='goto:{idx}' style='color:#cfd5de;text-decoration:none'>"
                f"{html.escape(short_message(m.message, 60))}</a>"
            )
            if m.fix is not None:
                row += (
                    f" &nbsp;<a href='fix:{idx}' style='color:#7fb0ff'>"
                    f"Fix: {html.escape(_elide(m.fix.title, 36))}</a>"
                )
            rows.append(row)
        self.issues.setText("<br>".join(rows))
        self.issues.setToolTip(tooltip_html(self._marks))
        self.issues.show()

    # -- lookup --------------------------------------------------------------------------------
    def marks_at(self, pos: int) -> list[LintIssue]:
        text = self.edit.toPlainText()
        out = []
        for m in self._marks:
            start, end = _visible_span(text, m)
            if start <= pos < end or (start == end == pos):
                out.append(m)
        return sorted(out, key=lambda m: m.rank)

    def _char_at(self, point: QPoint) -> int | None:
        cur = self.edit.cursorForPosition(point)
        rect = self.edit.cursorRect(cur)
        pos = cur.position()
        if point.x() < rect.x():
            pos -= 1
        if pos < 0 or abs(point.y() - rect.center().y()) > rect.height():
            return None
        return pos

    def _fix_marks(self, pos: int | None = None) -> list[LintIssue]:
        """Fixable marks at the cursor, else every fixable mark of the caption."""
        marks = self._fresh()
        pos = self.edit.textCursor().position() if pos is None else pos
        here = [m for m in self.marks_at(pos) + self.marks_at(pos - 1) if m.fix is not None]
        if here:
            return list(dict.fromkeys(here))
        return [m for m in marks if m.fix is not None]

    # -- quick fixes -----------------------------------------------------------------------
    def _add_fix_actions(self, menu: QMenu, marks: list[LintIssue]) -> int:
        n = 0
        for m in marks:
            if m.fix is None:
                continue
            act = menu.addAction(f"Fix: {m.fix.title}")
            act.setToolTip(m.message)
            act.setData(m.rule)
            act.triggered.connect(lambda _c=False, mark=m: self.apply(mark))
            n += 1
        return n

    def quick_fix_menu(self) -> QMenu:
        menu = QMenu(self.edit)
        menu.setObjectName("quickFixMenu")
        marks = self._fix_marks()
        if not self._add_fix_actions(menu, marks):
            act = menu.addAction("No quick fix here")
            act.setEnabled(False)
        return menu

    def show_quick_fix(self) -> None:
        if not self.editor.rel:
            return
        menu = self.quick_fix_menu()
        rect = self.edit.cursorRect()
        menu.popup(self.edit.viewport().mapToGlobal(rect.bottomLeft() + QPoint(0, 4)))
        menu.setActiveAction(menu.actions()[0] if menu.actions() else None)

    def _context_menu(self, point: QPoint) -> None:
        menu = self.context_menu(point)
        menu.exec(self.edit.viewport().mapToGlobal(point))

    def context_menu(self, point: QPoint) -> QMenu:
        """The standard editing menu with the fixes for the problem under ``point`` on top."""
        self._fresh()
        pos = self._char_at(point)
        marks = self.marks_at(pos) if pos is not None else []
        menu = QMenu(self.edit)
        menu.setObjectName("lintContextMenu")
        menu.setToolTipsVisible(True)
        for m in marks:
            menu.addSection(_elide(m.message, 70))
        if marks:
            self._add_fix_actions(menu, marks)
            menu.addSeparator()
        standard = self.edit.createStandardContextMenu(point)
        standard.setParent(menu, standard.windowFlags())
        menu.addActions(standard.actions())
        return menu

    def apply(self, mark: LintIssue) -> None:
        """Apply ``mark``'s fix to the editor's text as one undoable step."""
        if mark.fix is None or not self.editor.rel:
            return
        text = self.edit.toPlainText()
        new = apply_fix(text, mark.fix)
        if new == text:
            return
        self.apply_fn(self.editor.rel, new, f"fix {mark.rule}: {mark.fix.title}")
        self.relint()

    def _on_link(self, link: str) -> None:
        kind, _, idx = link.partition(":")
        if not idx.isdigit() or int(idx) >= len(self._marks):
            return
        mark = self._marks[int(idx)]
        if kind == "fix":
            self.apply(mark)
        else:
            cur = self.edit.textCursor()
            start, end = _visible_span(self.edit.toPlainText(), mark)
            cur.setPosition(start)
            cur.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            self.edit.setTextCursor(cur)
            self.edit.setFocus()

    def _update_bulb(self) -> None:
        if not self.edit.isEnabled():
            self.bulb.hide()
            return
        pos = self.edit.textCursor().position()
        here = [m for m in self.marks_at(pos) + self.marks_at(pos - 1) if m.fix is not None]
        if not here or self._linted_text != self.edit.toPlainText():
            self.bulb.hide()
            return
        # in a right-hand gutter, on the line of the problem (never over the text start)
        start, _ = _visible_span(self.edit.toPlainText(), here[0])
        cur = QTextCursor(self.edit.document())
        cur.setPosition(start)
        rect = self.edit.cursorRect(cur)
        x = self.edit.viewport().width() - self.bulb.width() - 3
        y = max(0, rect.center().y() - self.bulb.height() // 2)
        self.bulb.move(x, y)
        self.bulb.show()
        self.bulb.raise_()

    # -- hover tooltips --------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip and obj is self._viewport:
            pos = self._char_at(event.pos())
            marks = self.marks_at(pos) if pos is not None else []
            if marks:
                QToolTip.showText(event.globalPos(), tooltip_html(marks), self.edit.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().eventFilter(obj, event)


def bulb_icon():
    """A small lightbulb drawn with QPainter (no emoji font needed)."""
    from PySide6.QtGui import QIcon, QPainter, QPixmap

    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#f5c542"))
    p.drawEllipse(7, 2, 18, 18)
    p.drawRect(12, 16, 8, 6)
    p.setBrush(QColor("#aeb6c2"))
    p.drawRoundedRect(11, 23, 10, 3, 1, 1)
    p.drawRoundedRect(12, 27, 8, 3, 1, 1)
    p.end()
    return QIcon(pm)


def short_message(message: str, limit: int = 90) -> str:
    """The first clause of a lint message (the full text is in the tooltip)."""
    cut = len(message)
    for sep in (" (", ": ", "; "):
        at = message.find(sep)
        if 12 <= at < cut:
            cut = at
    return _elide(message[:cut], limit)


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def apply_fix(text: str, fix: Fix) -> str:
    """The core fixer on one fix (the CLI's, and "Fix all"'s)."""
    return apply_fixes(text, [fix])


def tooltip_html(marks: list[LintIssue]) -> str:
    parts = []
    for m in marks:
        colour = SEVERITY_COLOURS.get(m.severity, "#9aa3af")
        part = (
            f"<b style='color:{colour}'>{html.escape(m.severity)}</b> "
            f"<span style='color:#8b93a0'>{html.escape(m.rule)}</span><br>"
            f"{html.escape(m.message)}"
        )
        if m.fix is not None:
            part += (
                f"<br><span style='color:#7fb0ff'>Quick fix: {html.escape(m.fix.title)}"
                "</span> <span style='color:#8b93a0'>(Ctrl+. or right-click)</span>"
            )
        parts.append(part)
    return "<hr>".join(parts)


def _visible_span(text: str, mark: LintIssue) -> tuple[int, int]:
    """The span to underline: a zero-width mark widens to the word at its position."""
    start, end = max(0, mark.start), min(len(text), max(mark.end, mark.start))
    if end > start:
        return start, end
    if not text:
        return 0, 0
    start = min(start, len(text) - 1)
    while start > 0 and not text[start - 1].isspace() and text[start - 1] != ",":
        start -= 1
    end = start
    while end < len(text) and not text[end].isspace() and text[end] != ",":
        end += 1
    return start, max(end, start + 1)


def attach(editor, lint_fn: LintFn, apply_fn: ApplyFn) -> LintHighlighter:
    """Attach underlines to ``editor`` (a ``CaptionEditor``) and return the highlighter."""
    return LintHighlighter(editor, lint_fn, apply_fn)


__all__ = ["LintHighlighter", "apply_fix", "attach", "tooltip_html"]
