"""The export dialog's checks and trainer options: what will go out (with the choice to
leave flagged images out), what a face crop does to the shot tiers, and the layout.

Core work is in ``curation.export_plan``; this module only shows it. The caption lint runs on
the thread pool (``lint_counts``) and the summary updates when it is back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.workers import run_in_pool

LAYOUT_LABELS = [
    ("mirror", "Same folders as the dataset"),
    ("kohya", "kohya / OneTrainer: <repeats>_<trigger> folder"),
    ("flat", "ai-toolkit: one folder of images and captions"),
]
FACE_MODE_LABELS = [
    ("keep-tier", "Keep each image's shot tier"),
    ("square", "Same face size in every image"),
]


class ExportChecks(QWidget):
    """Summary + leave-out choice, and the layout group; emits ``changed`` on any change."""

    changed = Signal()

    def __init__(
        self,
        rels: list[str],
        excluded: set[str],
        images: Mapping[str, Any],
        verdict: str | None,
        lint_counts: Callable[[], dict[str, int]] | None,
        trigger: str,
        unreadable: set[str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._args = (rels, excluded, images, verdict)
        self._unreadable = set(unreadable or ())
        self._lint: dict[str, int] = {}
        self.lint_checked = lint_counts is None  # True once the caption lint is back
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("exportSummary")
        self.summary_label.setWordWrap(True)
        self.leave_out = QCheckBox("")
        self.leave_out.setChecked(True)
        self.leave_out.toggled.connect(self.changed)
        self.layout_combo = QComboBox()
        for key, label in LAYOUT_LABELS:
            self.layout_combo.addItem(label, key)
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 1000)
        self.repeats.setValue(10)
        self.repeats.setToolTip("How often each image is seen per epoch (the N in N_trigger)")
        self.trigger = trigger
        self.zip_check = QCheckBox("Also make a .zip of the export")
        self.layout_note = QLabel("")
        self.layout_note.setObjectName("hint")
        self.layout_note.setWordWrap(True)
        self.layout_note.setMinimumHeight(self.layout_note.fontMetrics().lineSpacing() * 3)
        box = QGroupBox("Layout for the trainer")
        g = QGridLayout(box)
        g.addWidget(self.layout_combo, 0, 0, 1, 2)
        g.addWidget(QLabel("Repeats"), 1, 0)
        g.addWidget(self.repeats, 1, 1)
        g.addWidget(self.layout_note, 2, 0, 1, 2)
        g.addWidget(self.zip_check, 3, 0, 1, 2)
        self.layout_box = box
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.leave_out)
        for w in (self.layout_combo, self.repeats, self.zip_check):
            signal = getattr(w, "currentIndexChanged", None) or getattr(w, "valueChanged", None)
            (signal or w.toggled).connect(self._layout_changed)
        self._layout_changed()
        self.refresh()
        if lint_counts is not None:
            self._job = run_in_pool(lint_counts, on_done=self._on_lint, on_error=self._no_lint)

    # -- summary -----------------------------------------------------------------------
    def summary(self):
        from curation.export_plan import summarize

        rels, excluded, images, verdict = self._args
        return summarize(rels, excluded, images, verdict, self._lint, self._unreadable)

    def refresh(self) -> None:
        s = self.summary()
        lines = s.lines()
        if lines:
            head = "Before you export:" if s.blocking else "Good to know:"
            self.summary_label.setText(head + "\n• " + "\n• ".join(lines))
        else:
            self.summary_label.setText("Ready: no caption errors, no flagged images.")
        self.summary_label.setProperty("level", "warning" if s.blocking else "ok")
        self.summary_label.style().unpolish(self.summary_label)
        self.summary_label.style().polish(self.summary_label)
        n = len(s.flagged)
        self.leave_out.setText(f"Leave the {n} flagged image{'' if n == 1 else 's'} out")
        self.leave_out.setVisible(bool(n))
        self.changed.emit()

    def _on_lint(self, counts: dict[str, int]) -> None:
        self._lint = dict(counts)
        self.lint_checked = True
        self.refresh()

    def _no_lint(self, message: str, _exc) -> None:
        self.lint_checked = True
        self.summary_label.setText(
            self.summary_label.text() + f"\n(Captions not checked: {message})"
        )

    def left_out(self) -> list[str]:
        """The rels the user chose to leave out (the flagged ones, when ticked)."""
        return sorted(self.summary().flagged) if self.leave_out.isChecked() else []

    # -- layout ------------------------------------------------------------------------
    def layout_key(self) -> str:
        return str(self.layout_combo.currentData())

    def _layout_changed(self, *_args) -> None:
        key = self.layout_key()
        self.repeats.setEnabled(key == "kohya")
        if key == "kohya":
            folder = f"{self.repeats.value()}_{self.trigger or '<trigger>'}"
            note = f"Images and captions go into {folder}/; point the trainer at the export."
            if not self.trigger:
                note += " Set the trigger word in Dataset settings first."
        elif key == "flat":
            note = "One folder with every image and its .txt caption: ai-toolkit's folder_path."
        else:
            note = "The dataset's own folders, as they are."
        self.layout_note.setText(note)
        self.changed.emit()

    def options(self) -> dict[str, Any]:
        return {
            "layout": self.layout_key(),
            "trigger": self.trigger,
            "repeats": self.repeats.value(),
            "zip": self.zip_check.isChecked(),
            "leave_out": self.left_out(),
        }


def tier_warning(
    images: Mapping[str, Any],
    faces: Mapping[str, Any],
    ratio: float,
    thresholds: tuple[float, float] | None,
) -> str:
    """The plain-words warning for a fixed-ratio square that moves images between tiers."""
    from curation.export_plan import tier_changes

    if thresholds is None:
        return ""
    sizes = {
        rel: (img.width, img.height)
        for rel, img in images.items()
        if getattr(img, "width", 0) and getattr(img, "height", 0)
    }
    moved = tier_changes(sizes, faces, ratio, thresholds)
    if not moved:
        return ""
    total = sum(moved.values())
    parts = ", ".join(f"{n} {a} → {b}" for (a, b), n in moved.most_common())
    return (
        f"This crop changes the shot tier of {total} image{'' if total == 1 else 's'} "
        f"({parts}) and undoes the balance the dashboard asks for. "
        "Choose “Keep each image's shot tier” to keep it."
    )
