"""Dataset settings: the trigger token (with the checker's verdict, live) and the identity line.

The settings are stored per dataset in the workspace state (``Workspace.set_settings``), so
lint, autocaption and training read the same trigger. Changing the trigger offers to rename
the old one in every caption (one undo step).
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from curation.captions.trigger import TriggerReport, check_trigger
from curation.captions.workspace_lint import profile_choices
from curation.dataset_settings import DatasetSettings
from desktop.panels.captions.common import VERDICT_COLOURS

log = logging.getLogger(__name__)

MAX_CHIPS = 6
CHIP_STYLE = (
    "QPushButton#suggestionChip { background: #23324a; border: 1px solid #35538a;"
    " border-radius: 11px; padding: 3px 12px; color: #cfe0ff; font-family: monospace; }"
    "QPushButton#suggestionChip:hover { background: #2c3f5e; }"
    "QPushButton#suggestionChip:focus { border: 1px solid #7fb0ff; }"
)


class TriggerField(QWidget):
    """A line edit for the trigger with the checker's verdict, reasons and suggestion chips."""

    verdict_changed = Signal(str)  # good / weak / bad / "" (empty field)

    def __init__(self, parent: QWidget | None = None, delay_ms: int = 120) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setObjectName("triggerEdit")
        self.edit.setPlaceholderText("a fresh token, e.g. l3yla or m4ria")
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumHeight(self.edit.sizeHint().height())
        self.pill = QLabel("")
        self.pill.setObjectName("verdictPill")
        self.pill.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pill.setMinimumWidth(64)
        self.reasons = QLabel("")
        self.reasons.setObjectName("verdictReasons")
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.chips_label = QLabel("Try:")
        self.chips_label.setObjectName("hint")
        self.chips_row = QHBoxLayout()
        self.chips_row.setSpacing(6)
        self.chips: list[QPushButton] = []
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.edit, 1)
        top.addWidget(self.pill)
        chips = QHBoxLayout()
        chips.setContentsMargins(0, 0, 0, 0)
        chips.addWidget(self.chips_label)
        chips.addLayout(self.chips_row)
        chips.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        lay.addLayout(top)
        lay.addWidget(self.reasons)
        lay.addLayout(chips)
        self.setStyleSheet(CHIP_STYLE)
        self.verdict = ""
        self.result: TriggerReport | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.refresh)
        self.edit.textChanged.connect(self.timer.start)
        self.refresh()

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self.refresh()

    def refresh(self) -> None:
        """Run the checker on the current text (normally called after a short typing pause)."""
        self.timer.stop()
        token = self.text()
        result = check_trigger(token) if token else None
        self.result = result
        verdict = result.verdict if result else ""
        self.pill.setText(verdict.upper() if verdict else "")
        colour = VERDICT_COLOURS.get(verdict, "#3a404b")
        self.pill.setStyleSheet(
            f"QLabel#verdictPill {{ background: {colour}; color: white; font-weight: 700;"
            " border-radius: 10px; padding: 3px 10px; }"
            if verdict
            else "QLabel#verdictPill { background: transparent; }"
        )
        if result is None:
            self.reasons.setText(
                "<span style='color:#8b93a0'>The token that will carry the identity: not a real "
                "word or name, 4-6 characters, spelled the same in every caption.</span>"
            )
        elif result.reasons:
            colour = VERDICT_COLOURS.get(verdict, "#cfd5de")
            self.reasons.setText(
                "<br>".join(
                    f"<span style='color:{colour}'>•</span> {html.escape(r)}"
                    for r in result.reasons
                )
            )
        else:
            self.reasons.setText(
                "<span style='color:#6fcf97'>A fresh token: short, not a word or a name.</span>"
            )
        self._set_chips(result.suggestions if result else [])
        if verdict != self.verdict:
            self.verdict = verdict
            self.verdict_changed.emit(verdict)

    def _set_chips(self, suggestions: list[str]) -> None:
        for chip in self.chips:
            self.chips_row.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        for s in suggestions[:MAX_CHIPS]:
            chip = QPushButton(s)
            chip.setObjectName("suggestionChip")
            chip.setCursor(Qt.CursorShape.PointingHandCursor)
            chip.setToolTip(f"Use “{s}” as the trigger")
            chip.clicked.connect(lambda _c=False, t=s: self.set_text(t))
            chip.setMinimumHeight(chip.sizeHint().height())
            self.chips_row.addWidget(chip)
            self.chips.append(chip)
        self.chips_label.setVisible(bool(self.chips))


class DatasetSettingsDialog(QDialog):
    """Edit the dataset's trigger, identity line and caption profile."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Dataset settings")
        self.setObjectName("datasetSettingsDialog")
        self.resize(640, 380)
        self.controller = controller
        self.original = controller.settings
        intro = QLabel(
            "These settings belong to this dataset: caption lint, autocaption and training use "
            "them."
        )
        intro.setObjectName("hint")
        intro.setWordWrap(True)
        self.trigger = TriggerField()
        self.trigger.set_text(self.original.trigger)
        self.identity = QLineEdit(self.original.identity_line)
        self.identity.setObjectName("identityEdit")
        self.identity.setPlaceholderText(
            "optional, e.g. a woman with long dark brown wavy hair and deep brown eyes"
        )
        self.identity.setClearButtonEnabled(True)
        self.identity_hint = QLabel("")
        self.identity_hint.setObjectName("hint")
        self.identity_hint.setWordWrap(True)
        self.profile = QComboBox()
        for name, title in profile_choices():
            self.profile.addItem(title, name)
        i = self.profile.findData(self.original.profile)
        self.profile.setCurrentIndex(max(0, i))
        self.rename = QCheckBox("")
        self.rename.setObjectName("renameTrigger")
        self.rename.setChecked(True)
        self.rename.hide()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(10)
        form.addRow("&Trigger", self.trigger)
        form.addRow("", self.rename)
        form.addRow("&Identity line", self.identity)
        form.addRow("", self.identity_hint)
        form.addRow("Caption &profile", self.profile)
        self.trigger.chips_label.setBuddy(self.trigger.edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("primaryButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 14)
        lay.setSpacing(12)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addStretch(1)
        lay.addWidget(buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.accept)
        self.trigger.edit.textChanged.connect(self._update_rename)
        self.identity.textChanged.connect(self._update_identity_hint)
        self._update_rename()
        self._update_identity_hint()
        self.trigger.edit.setFocus()

    def settings(self) -> DatasetSettings:
        return DatasetSettings(
            trigger=self.trigger.text(),
            identity_line=" ".join(self.identity.text().split()),
            profile=str(self.profile.currentData() or "character"),
        )

    def _rename_count(self) -> int:
        old, new = self.original.trigger, self.trigger.text()
        if not old or not new or old == new:
            return 0
        return self.controller.count_token(old)

    def _update_rename(self) -> None:
        n = self._rename_count()
        if n:
            self.rename.setText(
                f"Also rename “{self.original.trigger}” to “{self.trigger.text()}” in {n} "
                f"caption{'s' if n != 1 else ''} (one undo step)"
            )
        self.rename.setVisible(bool(n))

    def _update_identity_hint(self) -> None:
        line = " ".join(self.identity.text().split())
        if not line:
            self.identity_hint.setText(
                "One short description kept word-for-word in every caption. Anything else "
                "describing the face or body is flagged."
            )
            return
        have, total = self.controller.count_identity_line(line)
        self.identity_hint.setText(
            f"Found verbatim in {have} of {total} captions. Kept word-for-word; other identity "
            "descriptors are still flagged."
        )

    def accept(self) -> None:
        new = self.settings()
        rename = self.rename.isVisible() and self.rename.isChecked()
        old_trigger = self.original.trigger
        self.controller.set_settings(new)
        if rename:
            self.controller.rename_trigger(old_trigger, new.trigger)
        super().accept()
