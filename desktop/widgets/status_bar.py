"""``DatasetStatusBar``: counts (images, captioned, uncaptioned, excluded, errors), the
selection, thumbnail progress and undo label."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QStatusBar, QWidget

from desktop.models.thumbnail_model import Counts
from desktop.widgets.elided_label import ElidedLabel


class DatasetStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.counts_label = ElidedLabel("No folder open")
        self.counts_label.setObjectName("countsLabel")
        self.selection_label = ElidedLabel("")
        self.selection_label.setMinimumWidth(120)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setFormat("thumbnails %v/%m")
        self.progress.hide()
        self.addWidget(self.counts_label, 1)
        self.addPermanentWidget(self.selection_label)
        self.addPermanentWidget(self.progress)

    def set_counts(self, counts: Counts | None, scan_errors: int = 0) -> None:
        if counts is None:
            self.counts_label.setText("No folder open")
            return
        errors = counts.errors + scan_errors
        parts = [
            _n(counts.images, "image"),
            f"{counts.captioned:,} captioned",
            f"{counts.uncaptioned:,} uncaptioned",
            f"{counts.excluded:,} excluded",
            _n(errors, "error"),
        ]
        self.counts_label.setText("   ·   ".join(parts))

    def set_selection(self, n: int, shown: int, total: int) -> None:
        text = f"{n:,} selected" if n else ""
        if shown != total:
            text = (text + "   ·   " if text else "") + f"showing {shown:,} of {total:,}"
        self.selection_label.setText(text)

    def set_progress(self, done: int, total: int) -> None:
        if total <= 0 or done >= total:
            self.progress.hide()
            return
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.progress.show()


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
