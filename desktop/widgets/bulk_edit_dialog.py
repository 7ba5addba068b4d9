"""``BulkEditDialog``: find/replace, prepend, append, rename trigger, remove duplicate phrases
on all captions or the selection, with a live diff preview; applied as ONE undo step."""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from curation import bulk
from curation.errors import BulkEditError
from desktop.widgets.diff_html import diff_runs_html

log = logging.getLogger(__name__)

PREVIEW_LIMIT = 300
OPS = (
    "Find and replace",
    "Prepend text",
    "Append text",
    "Rename trigger token",
    "Remove duplicate phrases",
)


class BulkEditDialog(QDialog):
    """Needs a ``DatasetSession`` (for captions, apply and undo) and the selected rels."""

    def __init__(self, session, selection: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bulk edit captions")
        self.setObjectName("bulkEditDialog")
        self.resize(920, 640)
        self.session = session
        self.selection = list(selection)
        self.changes: list[bulk.BulkChange] = []
        self.applied_step = None

        self.op = QComboBox()
        self.op.addItems(OPS)
        self.pages = QStackedWidget()
        self.find = QLineEdit()
        self.find.setPlaceholderText("text or regular expression to find")
        self.replace = QLineEdit()
        self.replace.setPlaceholderText("replace with (empty removes it)")
        self.regex = QCheckBox("Regular expression")
        self.whole = QCheckBox("Whole word")
        self.case = QCheckBox("Match case")
        self.case.setChecked(True)
        p = QWidget()
        f = QFormLayout(p)
        f.addRow("Find", self.find)
        f.addRow("Replace", self.replace)
        opts = QHBoxLayout()
        for w in (self.regex, self.whole, self.case):
            opts.addWidget(w)
        opts.addStretch(1)
        f.addRow("", opts)
        self.pages.addWidget(p)
        self.add_text, self.add_sep, self.add_skip = [], [], []
        for label in ("Prepend", "Append"):
            page = QWidget()
            fl = QFormLayout(page)
            text, sep = QLineEdit(), QLineEdit(", ")
            text.setPlaceholderText(f"text to {label.lower()}, e.g. a photo of l3yla")
            skip = QCheckBox("Skip captions that already contain it")
            skip.setChecked(True)
            fl.addRow(label, text)
            fl.addRow("Separator", sep)
            fl.addRow("", skip)
            self.add_text.append(text)
            self.add_sep.append(sep)
            self.add_skip.append(skip)
            self.pages.addWidget(page)
        page = QWidget()
        fl = QFormLayout(page)
        self.old_token, self.new_token = QLineEdit(), QLineEdit()
        self.old_token.setPlaceholderText("current trigger, e.g. l3yla")
        self.new_token.setPlaceholderText("new trigger, e.g. m4ria")
        self.token_case = QCheckBox("Match case")
        self.token_case.setChecked(True)
        fl.addRow("Old token", self.old_token)
        fl.addRow("New token", self.new_token)
        fl.addRow("", self.token_case)
        self.pages.addWidget(page)
        page = QWidget()
        fl = QFormLayout(page)
        self.dedupe_case = QCheckBox("Match case (otherwise 'Smiling' = 'smiling')")
        fl.addRow(
            QLabel("Removes repeated comma-separated phrases, keeping the first, and empty ones.")
        )
        fl.addRow("", self.dedupe_case)
        self.pages.addWidget(page)

        self.scope_all = QRadioButton("All images")
        self.scope_sel = QRadioButton(f"Selection ({len(self.selection)})")
        self.scope_sel.setEnabled(bool(self.selection))
        (self.scope_sel if len(self.selection) > 1 else self.scope_all).setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.scope_all)
        group.addButton(self.scope_sel)
        scope = QHBoxLayout()
        scope.addWidget(QLabel("Apply to"))
        scope.addWidget(self.scope_all)
        scope.addWidget(self.scope_sel)
        scope.addStretch(1)

        self.count = QLabel("")
        self.count.setObjectName("previewCount")
        self.preview = QTextBrowser()
        self.preview.setObjectName("diffPreview")
        self.apply_btn = QPushButton("Apply")
        self.apply_btn.setObjectName("primaryButton")
        self.apply_btn.setDefault(True)
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setEnabled(False)
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.count, 1)
        buttons.addWidget(self.undo_btn)
        buttons.addWidget(close)
        buttons.addWidget(self.apply_btn)

        top = QFormLayout()
        top.addRow("Operation", self.op)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.pages)
        lay.addLayout(scope)
        lay.addWidget(QLabel("Preview"))
        lay.addWidget(self.preview, 1)
        lay.addLayout(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.update_preview)
        self.op.currentIndexChanged.connect(self.pages.setCurrentIndex)
        self.op.currentIndexChanged.connect(self._schedule)
        for w in (
            self.find,
            self.replace,
            self.old_token,
            self.new_token,
            *self.add_text,
            *self.add_sep,
        ):
            w.textChanged.connect(self._schedule)
        for w in (
            self.regex,
            self.whole,
            self.case,
            self.token_case,
            self.dedupe_case,
            *self.add_skip,
            self.scope_all,
            self.scope_sel,
        ):
            w.toggled.connect(self._schedule)
        self.apply_btn.clicked.connect(self.apply)
        self.undo_btn.clicked.connect(self.undo)
        close.clicked.connect(self.accept)
        self.update_preview()

    # -- planning -------------------------------------------------------------------------
    def _schedule(self, *_args) -> None:
        self._timer.start()

    def _rels(self) -> list[str] | None:
        return self.selection if self.scope_sel.isChecked() else None

    def plan(self) -> tuple[list[bulk.BulkChange], str]:
        """The changes for the current settings and a label for the undo step."""
        captions = self.session.workspace.captions()
        rels = self._rels()
        op = self.op.currentIndex()
        if op == 0:
            if not self.find.text():
                return [], ""
            changes = bulk.plan_replace(
                captions,
                self.find.text(),
                self.replace.text(),
                regex=self.regex.isChecked(),
                whole_word=self.whole.isChecked(),
                case_sensitive=self.case.isChecked(),
                rels=rels,
            )
            return changes, f"replace '{self.find.text()}' with '{self.replace.text()}'"
        if op in (1, 2):
            i = op - 1
            text = self.add_text[i].text()
            if not text.strip():
                return [], ""
            fn = bulk.plan_prepend if op == 1 else bulk.plan_append
            changes = fn(
                captions,
                text,
                separator=self.add_sep[i].text(),
                rels=rels,
                skip_if_present=self.add_skip[i].isChecked(),
            )
            return changes, f"{'prepend' if op == 1 else 'append'} '{text}'"
        if op == 3:
            if not self.old_token.text().strip() or not self.new_token.text().strip():
                return [], ""
            changes = bulk.plan_rename_trigger(
                captions,
                self.old_token.text(),
                self.new_token.text(),
                case_sensitive=self.token_case.isChecked(),
                rels=rels,
            )
            return changes, f"rename trigger '{self.old_token.text()}' to '{self.new_token.text()}'"
        changes = bulk.plan_dedupe_phrases(
            captions, case_sensitive=self.dedupe_case.isChecked(), rels=rels
        )
        return changes, "remove duplicate phrases"

    def update_preview(self) -> None:
        if self.session.workspace is None:  # the dataset was closed while the timer ran
            self.changes, self.label = [], ""
            self.apply_btn.setEnabled(False)
            return
        try:
            self.changes, self.label = self.plan()
        except BulkEditError as exc:
            self.changes, self.label = [], ""
            self.count.setText(str(exc))
            self.count.setProperty("level", "error")
            self._restyle()
            self.preview.setHtml("")
            self.apply_btn.setEnabled(False)
            return
        n = len(self.changes)
        scope = f"{len(self.selection)} selected" if self._rels() is not None else "all"
        self.count.setText(
            f"{n:,} caption{'s' if n != 1 else ''} will change ({scope} images)"
            if n
            else "No caption would change"
        )
        self.count.setProperty("level", "ok" if n else "")
        self._restyle()
        self.apply_btn.setEnabled(n > 0)
        self.preview.setHtml(render_diff_html(self.changes))

    def _restyle(self) -> None:
        self.count.style().unpolish(self.count)
        self.count.style().polish(self.count)

    # -- apply / undo -------------------------------------------------------------------
    def apply(self) -> None:
        self.update_preview()
        if not self.changes:
            return
        result = self.session.apply_changes(self.changes, label=self.label)
        self.applied_step = result
        self.undo_btn.setEnabled(result.step_id is not None)
        self.undo_btn.setText(f"Undo ({len(result.written)} captions)")
        log.info(
            "Bulk edit '%s': %d written, %d pending, %d skipped",
            self.label,
            len(result.written),
            len(result.pending),
            len(result.skipped),
        )
        self.update_preview()

    def undo(self) -> None:
        if self.applied_step is None:
            return
        self.session.undo()
        self.applied_step = None
        self.undo_btn.setEnabled(False)
        self.undo_btn.setText("Undo")
        self.update_preview()


def render_diff_html(changes: list[bulk.BulkChange], limit: int = PREVIEW_LIMIT) -> str:
    """HTML for the preview: one block per caption, deletions struck red, insertions green."""
    rows = []
    for change in changes[:limit]:
        diff = diff_runs_html(
            change.old,
            change.new,
            '<span style="background:#5c2b31;color:#ffb4b4;text-decoration:line-through">',
            '<span style="background:#1f5133;color:#b7f5c8">',
        )
        rows.append(
            f'<p style="margin:0 0 8px 0"><span style="color:#8fa3bf">'
            f"{html.escape(change.rel)}</span><br>{diff or '<i>(empty)</i>'}</p>"
        )
    if len(changes) > limit:
        rows.append(f"<p><i>… and {len(changes) - limit:,} more</i></p>")
    return "".join(rows)
