"""The suggestion review: per image the raw autocaption -> the cleaned line -> the current
caption, as coloured word diffs beside the image; edit, accept (one undo step per image),
accept all (one undo step) or skip.

Keys: Up/Down pick an image, Ctrl+Enter accept, Ctrl+Shift+Enter accept all pending,
Alt+S skip, Ctrl+Z undo the last acceptance.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from curation.captioners.autocaption import discard_suggestions
from curation.captioners.review import ReviewItem, accepted_suggestions
from desktop.panels.captions.diff_html import raw_html, removed_legend_html, word_diff_html
from desktop.workers import Job, run_in_pool

log = logging.getLogger(__name__)

STATUS_COLOURS = {
    "pending": "#4f8cff",
    "accepted": "#3fae6a",
    "skipped": "#6b7380",
    "error": "#d64545",
}
PREVIEW_PIXELS = 640


def _load_preview(path: Path) -> QImage:
    from curation.images import load_image

    img = load_image(path, draft=(PREVIEW_PIXELS, PREVIEW_PIXELS)).image
    img.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
    data = img.convert("RGB").tobytes()
    q = QImage(data, img.width, img.height, img.width * 3, QImage.Format.Format_RGB888)
    return q.copy()


def status_icon(status: str) -> QIcon:
    """A drawn status mark: pending dot, accepted tick, skipped dash, failed cross."""
    pm = QPixmap(24, 24)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(STATUS_COLOURS.get(status, "#6b7380"))
    if status == "pending":
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawEllipse(6, 6, 12, 12)
    else:
        p.setPen(QPen(colour, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        if status == "accepted":
            p.drawPolyline([QPointF(5, 13), QPointF(10, 18), QPointF(19, 6)])
        elif status == "error":
            p.drawLine(6, 6, 18, 18)
            p.drawLine(18, 6, 6, 18)
        else:
            p.drawLine(6, 12, 18, 12)
    p.end()
    return QIcon(pm)


class ImageBox(QLabel):
    """Shows a pixmap scaled to fit whatever room the layout gives it (never overflows)."""

    def __init__(self) -> None:
        super().__init__("")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._source: QPixmap | None = None

    def set_image(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._source = pixmap
        self.setText(text if pixmap is None else "")
        self._rescale()

    def has_image(self) -> bool:
        return self._source is not None and not self._source.isNull()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if not self.has_image():
            self.setPixmap(QPixmap())
            return
        self.setPixmap(
            self._source.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName("sectionTitle")
    label.setStyleSheet("QLabel#sectionTitle { color: #8b93a0; font-weight: 600; }")
    return label


class ReviewScreen(QDialog):
    """Review ``suggestions`` against the session's current captions."""

    accepted_count_changed = Signal(int)

    def __init__(
        self,
        session,
        suggestions: list[ReviewItem],
        parent: QWidget | None = None,
        before_write=None,
        lint_fn=None,
    ):
        super().__init__(parent)
        #: (rel, text) -> [Mark]: the caption lint, shown for the caption about to be written
        self.lint_fn = lint_fn
        #: called before a caption is written (the main editor saves its pending typing)
        self.before_write = before_write
        self.setWindowTitle("Review autocaptions")
        self.setObjectName("reviewScreen")
        self.resize(1180, 760)
        self.session = session
        self.suggestions = [s for s in suggestions]
        self._job: Job | None = None
        self._current: ReviewItem | None = None

        self.list = QListWidget()
        self.list.setObjectName("suggestionList")
        self.list.setIconSize(QSize(14, 14))
        self.list.setSpacing(1)
        self.list.setMinimumWidth(220)
        self.image = ImageBox()
        self.image.setObjectName("reviewImage")
        self.image.setMinimumSize(280, 220)
        self.image.setStyleSheet("QLabel#reviewImage { background: #14171b; border-radius: 6px; }")
        self.title = QLabel("")
        self.title.setObjectName("editorTitle")
        self.raw = QTextBrowser()
        self.raw.setObjectName("rawText")
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.diff = QTextBrowser()
        self.diff.setObjectName("diffText")
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("proposalEdit")
        self.edit.setPlaceholderText("The caption to write (edit it before accepting)")
        self.edit.setTabChangesFocus(True)
        for box in (self.raw, self.diff):
            box.setMaximumHeight(96)
        self.edit.setMaximumHeight(80)
        self.lint_line = QLabel("")
        self.lint_line.setObjectName("reviewLint")
        self.lint_line.setTextFormat(Qt.TextFormat.RichText)
        self.lint_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.accept_btn = QPushButton("Accept  (Ctrl+Enter)")
        self.accept_btn.setObjectName("primaryButton")
        self.skip_btn = QPushButton("Skip  (Alt+S)")
        self.reset_btn = QPushButton("Reset edit")
        self.all_btn = QPushButton("Accept all pending")
        self.close_btn = QPushButton("Close")

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(12, 0, 0, 0)
        rl.setSpacing(6)
        rl.addWidget(self.title)
        rl.addWidget(self.image, 1)
        rl.addWidget(_section("Autocaption (raw) — struck phrases were removed"))
        rl.addWidget(self.raw)
        rl.addWidget(self.legend)
        rl.addWidget(_section("Current caption → new caption"))
        rl.addWidget(self.diff)
        rl.addWidget(_section("New caption"))
        rl.addWidget(self.edit)
        rl.addWidget(self.lint_line)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.reset_btn)
        row.addWidget(self.skip_btn)
        row.addWidget(self.accept_btn)
        rl.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 900])
        bottom = QHBoxLayout()
        self.summary = QLabel("")
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.all_btn)
        bottom.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 12, 14, 12)
        lay.addWidget(split, 1)
        lay.addLayout(bottom)

        self._diff_timer = QTimer(self)
        self._diff_timer.setSingleShot(True)
        self._diff_timer.setInterval(120)
        self._diff_timer.timeout.connect(self._update_diff)
        self.edit.textChanged.connect(self._on_edited)
        self.list.currentRowChanged.connect(self._show_row)
        self.accept_btn.clicked.connect(self.accept_current)
        self.skip_btn.clicked.connect(self.skip_current)
        self.reset_btn.clicked.connect(self.reset_edit)
        self.all_btn.clicked.connect(self.accept_all)
        self.close_btn.clicked.connect(self.close)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.accept_current)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.accept_current)
        QShortcut(QKeySequence("Ctrl+Shift+Return"), self, activated=self.accept_all)
        QShortcut(QKeySequence("Alt+S"), self, activated=self.skip_current)
        QShortcut(QKeySequence("Ctrl+Z"), self, activated=self.undo)
        session.captions_changed.connect(self._on_captions_changed)
        self._fill_list()
        if self.suggestions:
            self.list.setCurrentRow(self._next_pending(-1) if self._any_pending() else 0)

    # -- list ------------------------------------------------------------------------------
    def _fill_list(self) -> None:
        self.list.clear()
        for s in self.suggestions:
            item = QListWidgetItem(s.rel)
            item.setToolTip(s.error or s.proposal)
            self.list.addItem(item)
            self._paint_item(self.list.count() - 1)
        self._update_summary()

    def _paint_item(self, row: int) -> None:
        s = self.suggestions[row]
        item = self.list.item(row)
        status = "error" if s.error else s.status
        item.setIcon(status_icon(status))
        item.setText(s.rel)
        item.setForeground(
            QColor({"skipped": "#8b93a0", "error": "#ff8a8a"}.get(status, "#e6e8ec"))
        )
        item.setToolTip(s.error or f"{status}: {s.proposal}")
        item.setData(Qt.ItemDataRole.UserRole, status)

    def _update_summary(self) -> None:
        counts = {"pending": 0, "accepted": 0, "skipped": 0}
        for s in self.suggestions:
            counts["skipped" if s.error else s.status] += 1
        errors = sum(1 for s in self.suggestions if s.error)
        text = (
            f"{len(self.suggestions)} suggestions · {counts['pending']} pending · "
            f"{counts['accepted']} accepted · {counts['skipped']} skipped"
        )
        if errors:
            text += f" ({errors} failed)"
        self.summary.setText(text)
        self.all_btn.setEnabled(counts["pending"] > 0)
        self.all_btn.setText(f"Accept all pending ({counts['pending']})")
        self.accepted_count_changed.emit(counts["accepted"])

    def _any_pending(self) -> bool:
        return any(s.status == "pending" and not s.error for s in self.suggestions)

    def _next_pending(self, after: int) -> int:
        n = len(self.suggestions)
        for k in range(1, n + 1):
            i = (after + k) % n
            if self.suggestions[i].status == "pending" and not self.suggestions[i].error:
                return i
        return max(0, after)

    # -- one suggestion ----------------------------------------------------------------------
    def _show_row(self, row: int) -> None:
        if not 0 <= row < len(self.suggestions):
            self._current = None
            return
        s = self._current = self.suggestions[row]
        self.title.setText(s.rel)
        self.raw.setHtml(raw_html(s.raw, s.removed) if not s.error else "")
        self.legend.setText(
            removed_legend_html(s.removed)
            if not s.error
            else f"<span style='color:#ff8a8a'>Autocaption failed: {s.error}</span>"
        )
        self.edit.blockSignals(True)
        self.edit.setPlainText(s.proposal)
        self.edit.blockSignals(False)
        self._update_diff()
        self._update_buttons()
        self.image.set_image(None, "Loading…")
        if self._job is not None:
            self._job.stale = True
        self._job = run_in_pool(
            lambda p=s.path: _load_preview(p),
            on_done=self._on_image,
            on_error=lambda msg, _e: self.image.set_image(None, f"Cannot show the image: {msg}"),
        )

    def _on_image(self, image: QImage) -> None:
        self.image.set_image(QPixmap.fromImage(image))

    def _on_edited(self) -> None:
        if self._current is not None:
            text = self.edit.toPlainText()
            self._current.edited = None if text == self._current.cleaned else text
        self._diff_timer.start()

    def _update_diff(self) -> None:
        s = self._current
        if s is None:
            return
        current = self.session.caption(s.rel)
        self.diff.setHtml(word_diff_html(current, self.edit.toPlainText()))
        self._update_lint(s)
        self.status.setText(
            {"accepted": "Accepted — Ctrl+Z undoes it", "skipped": "Skipped"}.get(s.status, "")
            if not s.error
            else ""
        )

    def _update_lint(self, s: ReviewItem) -> None:
        """The lint's verdict on the caption about to be written (one line)."""
        if self.lint_fn is None or s.error:
            self.lint_line.setText("")
            return
        try:
            marks = self.lint_fn(s.rel, self.edit.toPlainText())
        except Exception as exc:  # noqa: BLE001 - decoration, never a crash
            log.debug("review lint failed: %s", exc)
            marks = []
        if not marks:
            self.lint_line.setText("<span style='color:#6fcf97'>✓ No lint problems</span>")
            return
        from desktop.panels.captions.common import SEVERITY_COLOURS
        from desktop.panels.captions.lint_highlighter import short_message

        marks = sorted(marks, key=lambda m: m.rank)
        parts = [
            f"<span style='color:{SEVERITY_COLOURS.get(m.severity, '#cfd5de')}'>●</span> "
            f"{html.escape(short_message(m.message, 60))}"
            for m in marks[:3]
        ]
        more = f" · +{len(marks) - 3} more" if len(marks) > 3 else ""
        self.lint_line.setText(" &nbsp; ".join(parts) + more)
        self.lint_line.setToolTip("\n".join(m.message for m in marks))

    def _update_buttons(self) -> None:
        s = self._current
        ok = s is not None and not s.error
        self.accept_btn.setEnabled(ok and s.status != "accepted")
        self.skip_btn.setEnabled(ok and s.status == "pending")
        self.reset_btn.setEnabled(ok)
        self.edit.setReadOnly(not ok)

    # -- actions ----------------------------------------------------------------------------
    def accept_current(self) -> None:
        s = self._current
        if s is None or s.error or s.status == "accepted":
            return
        text = self.edit.toPlainText().strip()
        s.edited = None if text == s.cleaned else text
        if self.before_write is not None:
            self.before_write()
        result = self.session.accept_suggestions(
            accepted_suggestions([s]), f"accept autocaption {s.rel}"
        )
        if result is None or s.rel not in result.written:
            return
        s.status, s.accepted_text = "accepted", text
        self._after_change()
        self.list.setCurrentRow(self._next_pending(self.list.currentRow()))

    def accept_all(self) -> None:
        todo = [s for s in self.suggestions if s.status == "pending" and not s.error]
        if not todo:
            return
        if self.before_write is not None:
            self.before_write()
        result = self.session.accept_suggestions(
            accepted_suggestions(todo), f"accept {len(todo)} autocaptions"
        )
        if result is None:
            return
        for s in todo:
            if s.rel in result.written:
                s.status, s.accepted_text = "accepted", s.proposal.strip()
        self._after_change()

    def skip_current(self) -> None:
        s = self._current
        if s is None or s.status != "pending":
            return
        s.status = "skipped"
        if self.session.workspace is not None:
            discard_suggestions(self.session.workspace, [s.rel])
        self._after_change()
        self.list.setCurrentRow(self._next_pending(self.list.currentRow()))

    def reset_edit(self) -> None:
        if self._current is not None:
            self._current.edited = None
            self.edit.setPlainText(self._current.cleaned)
            self._update_diff()

    def undo(self) -> None:
        self.session.undo()

    def _on_captions_changed(self, rels: list[str]) -> None:
        touched = set(rels)
        for s in self.suggestions:
            if s.rel in touched and s.status == "accepted":
                if self.session.caption(s.rel) != s.accepted_text:
                    s.status = "pending"  # undone: back in the queue
        self._after_change()

    def _after_change(self) -> None:
        for i in range(len(self.suggestions)):
            self._paint_item(i)
        self._update_summary()
        self._update_diff()
        self._update_buttons()

    def pending(self) -> list[ReviewItem]:
        return [s for s in self.suggestions if s.status == "pending" and not s.error]

    def closeEvent(self, event) -> None:  # noqa: N802
        try:
            self.session.captions_changed.disconnect(self._on_captions_changed)
        except (RuntimeError, TypeError):
            pass
        super().closeEvent(event)
