"""``GateDialog``: why a run is refused, with a button per reason that jumps to its images,
and "Train anyway" (the override and its reasons are written into the run config)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class GateDialog(QDialog):
    jump_requested = Signal(str)  # the first image a reason names

    def __init__(self, reasons: list[Any], notes: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Not ready to train")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>This dataset is not ready to train:</b>"))
        for reason in reasons:
            row = QHBoxLayout()
            text = QLabel(reason.line())
            text.setWordWrap(True)
            row.addWidget(text, 1)
            if reason.paths:
                go = QPushButton("Show")
                go.clicked.connect(
                    lambda _=False, rel=reason.paths[0]: (
                        self.jump_requested.emit(rel),
                        self.reject(),
                    )
                )
                row.addWidget(go)
            lay.addLayout(row)
        for note in notes:
            lay.addWidget(QLabel(f"<i>{note}</i>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.anyway = buttons.addButton("Train anyway", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
