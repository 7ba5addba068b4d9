"""``CaptionEditor``: edit one caption, autosaved on a typing pause and on leaving the image.

Undo/redo (Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y) go through the workspace history, which persists
across restarts, not through the text widget's own stack: pending typing is saved first so
the undo step is exactly "the last saved edit". A failed save (read-only caption) is shown
in a non-blocking banner and the edit stays pending; the next save retries it.

A caption is one line (trainers read a multi-line caption differently, see
``curation.caption_io.normalize_caption``): a final line break is never shown (no phantom
second line to type into), Enter saves instead of starting a line, pasted lines are joined
with ", ". A caption file that already has several lines is shown as it is (the lint's
``multi-line`` finding offers the fix) and saved as one line.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from functools import lru_cache

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from curation import paths
from curation.caption_io import normalize_caption

log = logging.getLogger(__name__)

_PIECES = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")
SaveFn = Callable[[str, str], "str | None"]  # (rel, text) -> error text or None


def estimate_tokens(text: str) -> int:
    """A cheap BPE-like estimate (labelled so in the UI): a word is ~1 token per 7 letters,
    every digit and symbol is one."""
    return sum(
        max(1, math.ceil(len(p) / 7)) if p[0].isalpha() else 1 for p in _PIECES.findall(text)
    )


@lru_cache(maxsize=1)
def _tokenizer():
    """A local Qwen3 ``tokenizer.json`` under the model dir, if the user put one there."""
    path = paths.model_dir() / "tokenizers" / "qwen3" / "tokenizer.json"
    if not path.is_file():
        return None
    try:
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path))
    except Exception as exc:  # a broken file must not break the editor
        log.warning("Cannot load the tokenizer %s: %s", path, exc)
        return None


def _without_final_break(text: str) -> str:
    """The text without line breaks at its end: no empty last line to type into."""
    return text.rstrip("\r\n\u2028\u2029")


def count_text(text: str) -> tuple[int, int, bool]:
    """(words, tokens, exact): exact is True when a real tokenizer counted."""
    words = len(text.split())
    tok = _tokenizer()
    if tok is not None:
        return words, len(tok.encode(text, add_special_tokens=False).ids), True
    return words, estimate_tokens(text), False


class CaptionTextEdit(QPlainTextEdit):
    """Plain text edit whose undo/redo and navigation keys are handed to the editor."""

    undo_requested = Signal()
    redo_requested = Signal()
    navigate = Signal(int)  # -1 previous, +1 next
    save_and_next = Signal()
    save_requested = Signal()  # Enter: a caption is one line, so Enter commits it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(True)

    def _intent(self, event: QKeyEvent) -> str | None:
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        if event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z
            and event.modifiers()
            == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        ):
            return "redo"
        mods = event.modifiers()
        key = event.key()
        if (
            key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and mods & Qt.KeyboardModifier.ControlModifier
        ):
            return "save_next"
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return "save"
        if key == Qt.Key.Key_PageDown or (
            mods & Qt.KeyboardModifier.AltModifier and key == Qt.Key.Key_Right
        ):
            return "next"
        if key == Qt.Key.Key_PageUp or (
            mods & Qt.KeyboardModifier.AltModifier and key == Qt.Key.Key_Left
        ):
            return "prev"
        return None

    def event(self, event) -> bool:
        # claim the shortcut keys before window-level actions see them
        if event.type() == event.Type.ShortcutOverride and self._intent(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        intent = self._intent(event)
        if intent == "undo":
            self.undo_requested.emit()
        elif intent == "redo":
            self.redo_requested.emit()
        elif intent == "save_next":
            self.save_and_next.emit()
        elif intent == "save":
            self.save_requested.emit()
        elif intent == "next":
            self.navigate.emit(1)
        elif intent == "prev":
            self.navigate.emit(-1)
        else:
            super().keyPressEvent(event)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802
        """Pasted lines (a caption copied from a multi-line file) are joined with ", "."""
        text = source.text() if source.hasText() else ""
        if len(text.splitlines()) > 1 or text != _without_final_break(text):
            self.insertPlainText(normalize_caption(text))
            return
        super().insertFromMimeData(source)


class CaptionEditor(QWidget):
    """Header + text + counts + save state. Set ``save_fn`` before use."""

    saved = Signal(str)  # rel
    dirty_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("captionEditor")
        self.save_fn: SaveFn | None = None
        self._rel = ""
        self._saved_text = ""
        self._dirty = False
        self._loading = False
        self.title = QLabel("No image selected")
        self.title.setObjectName("editorTitle")
        self.state = QLabel("")
        self.state.setObjectName("saveState")
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.state)
        self.edit = CaptionTextEdit()
        self.edit.setPlaceholderText("Caption (saved automatically)")
        self.edit.setEnabled(False)
        self.banner = QLabel("")
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.counts = QLabel("")
        self.counts.setObjectName("counts")
        self.hint = QLabel("Ctrl+Enter save & next · PgUp/PgDn navigate · Ctrl+Z undo")
        self.hint.setToolTip(
            "Alt+Left / Alt+Right also move between images; edits are saved "
            "after a typing pause and when you leave the image"
        )
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.hint.setObjectName("hint")
        foot = QHBoxLayout()
        foot.addWidget(self.counts)
        foot.addWidget(self.hint, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        lay.addLayout(head)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.banner)
        lay.addLayout(foot)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(600)
        self.timer.timeout.connect(self.save)
        self.edit.textChanged.connect(self._on_text_changed)
        self.edit.save_requested.connect(self.save)

    # -- state -------------------------------------------------------------------------
    @property
    def rel(self) -> str:
        return self._rel

    def is_dirty(self) -> bool:
        return self._dirty

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_autosave_delay(self, ms: int) -> None:
        self.timer.setInterval(int(ms))

    def load(self, rel: str, text: str, title: str = "") -> None:
        """Show ``rel``'s caption (call ``save()`` first to keep the previous one)."""
        self.timer.stop()
        text = _without_final_break(text)
        self._rel = rel
        self._saved_text = text
        self._loading = True
        self.edit.setPlainText(text)
        self._loading = False
        self.edit.setEnabled(bool(rel))
        self.title.setText(title or rel or "No image selected")
        self._set_dirty(False)
        self.banner.hide()
        self.state.setText("")
        self._update_counts()

    def base_text(self) -> str:
        """The caption text the current edit started from (what was last loaded or saved)."""
        return self._saved_text

    def rebase(self, text: str) -> None:
        """The caption on disk is now ``text``: keep the user's edit, base the next save on it."""
        self._saved_text = text
        self._set_dirty(self.text() != text)

    def reload_text(self, text: str) -> None:
        """The caption changed underneath (undo, bulk edit): show it, keep the cursor.

        The echo of our own save (saved one-line: "smiling, " -> "smiling,") does not
        replace what is shown, or a pause after a comma would eat the space being typed."""
        shown = self.text()
        if "\n" not in shown and normalize_caption(shown) == text:
            self._saved_text = shown
            self._set_dirty(False)
            return
        cursor = self.edit.textCursor().position()
        self.load(self._rel, text, self.title.text())
        c = self.edit.textCursor()
        c.setPosition(min(cursor, len(text)))
        self.edit.setTextCursor(c)

    def save(self) -> bool:
        """Write the pending edit through ``save_fn``; True when nothing is left pending."""
        self.timer.stop()
        if not self._dirty or not self._rel or self.save_fn is None:
            return not self._dirty
        text = self.text()
        error = self.save_fn(self._rel, text)
        if error:
            self.state.setText("Not saved")
            self.state.setProperty("level", "error")
            self.banner.setText(f"Not saved: {error}")
            self.banner.show()
            self._restyle(self.state)
            return False
        self._saved_text = text
        self._set_dirty(False)
        if len(text.splitlines()) > 1:  # saved as one line: show what the file now holds
            self.reload_text(normalize_caption(text))
        self.banner.hide()
        self.state.setText("Saved")
        self.state.setProperty("level", "ok")
        self._restyle(self.state)
        self.saved.emit(self._rel)
        return True

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        room = self.width() - self.counts.sizeHint().width() - 40
        self.hint.setVisible(room >= self.hint.sizeHint().width())  # hide, never clip

    # -- internals -------------------------------------------------------------------------
    def _on_text_changed(self) -> None:
        self._update_counts()
        if self._loading or not self._rel:
            return
        self._set_dirty(self.text() != self._saved_text)
        if self._dirty:
            self.state.setText("Editing…")
            self.state.setProperty("level", "")
            self._restyle(self.state)
            self.timer.start()

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def _update_counts(self) -> None:
        words, tokens, exact = count_text(self.text())
        tok = f"{tokens} tokens (Qwen3)" if exact else f"≈{tokens} tokens (estimate)"
        self.counts.setText(f"{words} words · {tok}")

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
