"""``ExportDialog``: export a cleaned copy of the dataset into a new folder.

Options: pixels cut off each edge (generator watermarks) and a face-centred square crop
(output size, face-box height as a share of the side). A before/after preview of the selected
image updates as the options change (decoded off the GUI thread). The export itself runs on
the thread pool with progress and cancel; at the end the manifest is summarised. Originals
are never touched; excluded and unreadable images are left out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRect, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from curation.jobs import CancelToken
from desktop.panels.faces.export_checks import FACE_MODE_LABELS, ExportChecks, tier_warning
from desktop.thumbs.loader import pil_to_qimage
from desktop.workers import Job, run_in_pool

log = logging.getLogger(__name__)
EDGES = ("left", "top", "right", "bottom")
PREVIEW_SIDE = 300


class _Progress(QObject):
    progress = Signal(int, int, str)


def _preview_job(path: Path, options: Any, face: Any) -> tuple[QImage, QImage, tuple, list]:
    from curation.export import preview

    result = preview(path, options, face, max_side=PREVIEW_SIDE * 2)
    before = pil_to_qimage(result.before.convert("RGB"))
    after = pil_to_qimage(result.after.convert("RGB"))
    return before, after, tuple(result.crop_box), list(result.notes)


def default_out_dir(root: Path) -> Path:
    base = root.parent / f"{root.name}-export"
    out, n = base, 2
    while out.exists():
        out, n = root.parent / f"{root.name}-export-{n}", n + 1
    return out


class ExportDialog(QDialog):
    finished_export = Signal(object)  # ExportResult

    def __init__(
        self,
        session,
        faces: dict[str, Any],
        preview_rel: str,
        defaults: dict[str, Any],
        on_options: Callable[[dict[str, Any]], None] | None = None,
        parent: QWidget | None = None,
        unreadable: set[str] | None = None,
        *,
        images: dict[str, Any] | None = None,
        verdict: str | None = None,
        lint_counts: Callable[[], dict[str, int]] | None = None,
        thresholds: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export a cleaned copy")
        self.setObjectName("exportDialog")
        self.resize(760, 640)
        self.session = session
        self.faces = faces
        self.preview_rel = preview_rel
        self.on_options = on_options
        self.unreadable = set(unreadable or ())
        self.result = None
        self._job: Job | None = None
        self._preview_job: Job | None = None
        self._cancel: CancelToken | None = None
        self.images = dict(images or {})
        self.thresholds = thresholds
        ws = session.workspace
        self.checks = ExportChecks(
            [it.rel for it in ws.items],
            {it.rel for it in ws.items if ws.is_excluded(it.rel)},
            self.images,
            verdict,
            lint_counts,
            _trigger(ws),
            self.unreadable,
            self,
        )
        root = Path(session.workspace.root)
        self.out_edit = QLineEdit(str(default_out_dir(root)))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Into the new folder"))
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)

        self.edges: dict[str, QSpinBox] = {}
        crop_box = QGroupBox("Cut off the edges (watermarks)")
        grid = QGridLayout(crop_box)
        for i, edge in enumerate(EDGES):
            spin = QSpinBox()
            spin.setRange(0, 4000)
            spin.setSingleStep(10)
            spin.setSuffix(" px")
            spin.setValue(int(defaults.get("crop_edges", {}).get(edge, 0)))
            self.edges[edge] = spin
            grid.addWidget(QLabel(edge.capitalize()), i // 2, (i % 2) * 2)
            grid.addWidget(spin, i // 2, (i % 2) * 2 + 1)
        face_box = QGroupBox("Face-centred square crop")
        self.face_check = QCheckBox("Crop a square around the face and resize it")
        self.face_check.setChecked(bool(defaults.get("face_crop")))
        self.size_spin = QSpinBox()
        self.size_spin.setRange(64, 8192)
        self.size_spin.setSingleStep(64)
        self.size_spin.setSuffix(" px")
        self.size_spin.setValue(int(defaults.get("face_size", 1024)))
        self.ratio_spin = QDoubleSpinBox()
        self.ratio_spin.setRange(0.05, 1.0)
        self.ratio_spin.setSingleStep(0.05)
        self.ratio_spin.setDecimals(2)
        self.ratio_spin.setValue(float(defaults.get("face_ratio", 0.6)))
        self.ratio_spin.setToolTip("Face-box height as a share of the square's side (0.6 = 60%)")
        self.mode_combo = QComboBox()
        for key, label in FACE_MODE_LABELS:
            self.mode_combo.addItem(label, key)
        if thresholds is None:  # no profile thresholds: only the fixed square is possible
            self.mode_combo.setCurrentIndex(self.mode_combo.findData("square"))
            self.mode_combo.setEnabled(False)
        self.mode_combo.setToolTip(
            "Keep: the largest square that keeps close-ups, medium and full-body shots as "
            "they are (else the whole image). Same face size: every image becomes the framing "
            "set by Face height, usually a close-up."
        )
        self.tier_note = QLabel("")
        self.tier_note.setObjectName("errorBanner")
        self.tier_note.setWordWrap(True)
        self.tier_note.hide()
        fg = QGridLayout(face_box)
        fg.addWidget(self.face_check, 0, 0, 1, 4)
        fg.addWidget(self.mode_combo, 1, 0, 1, 4)
        fg.addWidget(QLabel("Size"), 2, 0)
        fg.addWidget(self.size_spin, 2, 1)
        fg.addWidget(QLabel("Face height"), 2, 2)
        fg.addWidget(self.ratio_spin, 2, 3)
        options_row = QHBoxLayout()
        options_row.addWidget(crop_box, 1)
        options_row.addWidget(face_box, 1)
        options_row.addWidget(self.checks.layout_box, 1)

        self.preview_title = QLabel(f"Preview: {preview_rel}" if preview_rel else "No preview")
        self.preview_title.setObjectName("hint")
        self.before = QLabel("")
        self.after = QLabel("")
        for lab in (self.before, self.after):
            lab.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setStyleSheet("background: #14171b; border-radius: 8px; color: #6b7380;")
        prev_row = QGridLayout()
        prev_row.addWidget(QLabel("Before (kept area outlined)"), 0, 0)
        prev_row.addWidget(QLabel("After"), 0, 1)
        prev_row.addWidget(self.before, 1, 0)
        prev_row.addWidget(self.after, 1, 1)
        self.preview_notes = QLabel("")
        self.preview_notes.setObjectName("hint")
        self.preview_notes.setWordWrap(True)

        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("errorBanner")
        self.error.setWordWrap(True)
        self.error.hide()
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.progress.hide()
        self.export_btn = QPushButton("Export")
        self.export_btn.setObjectName("primaryButton")
        self.cancel_btn = QPushButton("Close")
        self.open_btn = QPushButton("Open the folder")
        self.open_btn.hide()
        footer = QHBoxLayout()
        footer.addWidget(self.progress, 1)
        footer.addStretch(1)
        footer.addWidget(self.open_btn)
        footer.addWidget(self.cancel_btn)
        footer.addWidget(self.export_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.checks)
        lay.addLayout(out_row)
        lay.addLayout(options_row)
        lay.addWidget(self.tier_note)
        lay.addWidget(self.preview_title)
        lay.addLayout(prev_row)
        lay.addWidget(self.preview_notes)
        lay.addStretch(1)
        lay.addWidget(self.summary)
        lay.addWidget(self.error)
        lay.addLayout(footer)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.update_preview)
        for spin in [*self.edges.values(), self.size_spin, self.ratio_spin]:
            spin.valueChanged.connect(self._options_changed)
        self.face_check.toggled.connect(self._options_changed)
        self.mode_combo.currentIndexChanged.connect(self._options_changed)
        self.checks.changed.connect(self._update_export_button)
        self.checks.changed.connect(self._options_changed)
        self.export_btn.clicked.connect(self.start_export)
        self.cancel_btn.clicked.connect(self._cancel_or_close)
        self.open_btn.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(self.out_edit.text()))
        )
        self._options_changed()
        self._update_export_button()
        self.update_preview()

    def _update_export_button(self) -> None:
        """ "Export anyway" while the summary has something the user should fix first."""
        s = self.checks.summary()
        risky = (
            s.verdict == "not-ready"
            or s.lint_errors
            or (s.flagged and not self.checks.leave_out.isChecked())
        )
        self.export_btn.setText("Export anyway" if risky else "Export")

    # -- options -----------------------------------------------------------------------
    def options(self):
        from curation.export import ExportOptions

        return ExportOptions(
            crop_edges={e: s.value() for e, s in self.edges.items() if s.value()},
            face_crop=self.size_spin.value() if self.face_check.isChecked() else None,
            face_ratio=round(self.ratio_spin.value(), 3),
            face_mode=str(self.mode_combo.currentData()),
            tier_thresholds=self.thresholds,
            **self.checks.options(),
        )

    def option_values(self) -> dict[str, Any]:
        return {
            "crop_edges": {e: s.value() for e, s in self.edges.items() if s.value()},
            "face_crop": self.face_check.isChecked(),
            "face_size": self.size_spin.value(),
            "face_ratio": round(self.ratio_spin.value(), 3),
        }

    def _options_changed(self, *_args) -> None:
        face_on = self.face_check.isChecked()
        square = self.mode_combo.currentData() == "square"
        self.size_spin.setEnabled(face_on)
        self.ratio_spin.setEnabled(face_on and square)
        self.mode_combo.setEnabled(face_on and self.thresholds is not None)
        warning = ""
        if face_on and square:
            warning = tier_warning(
                self.images, self.faces, self.ratio_spin.value(), self.thresholds
            )
        self.tier_note.setText(warning)
        self.tier_note.setVisible(bool(warning))
        ws = self.session.workspace
        items = ws.items if ws is not None else []
        excluded = sum(1 for it in items if ws.is_excluded(it.rel))
        unreadable = sum(
            1 for it in items if it.rel in self.unreadable and not ws.is_excluded(it.rel)
        )
        ops = []
        values = self.option_values()
        if values["crop_edges"]:
            ops.append("cut " + ", ".join(f"{v} px {e}" for e, v in values["crop_edges"].items()))
        if face_on and square:
            ops.append(f"face-centred {values['face_size']} px squares "
                       f"(face {values['face_ratio']:.0%} of the side)")  # fmt: skip
        elif face_on:
            ops.append(f"face crops of about {values['face_size']} px that keep each tier")
        what = "; ".join(ops) if ops else "plain copies"
        left = len(self.checks.left_out())
        self.summary.setText(
            f"{len(items) - excluded - unreadable - left} images with their captions ({what}). "
            f"{excluded} excluded left out" + (f", {unreadable} unreadable" if unreadable else "")
            + (f", {left} flagged left out" if left else "")
            + ". The originals are not touched."
        )  # fmt: skip
        self._timer.start()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    # -- preview -----------------------------------------------------------------------
    def update_preview(self) -> None:
        ws = self.session.workspace
        if not self.preview_rel or ws is None:
            return
        try:
            options = self.options()
            options.validate()
        except Exception as exc:  # noqa: BLE001
            self.preview_notes.setText(str(exc))
            return
        if self._preview_job is not None:
            self._preview_job.stale = True
        path = Path(ws.root) / self.preview_rel
        face = self.faces.get(self.preview_rel)
        self._preview_job = run_in_pool(
            lambda: _preview_job(path, options, face),
            on_done=self._on_preview,
            on_error=lambda msg, _e: self.preview_notes.setText(f"No preview: {msg}"),
        )

    def _on_preview(self, result) -> None:
        before, after, box, notes = result
        self._preview_job = None
        marked = before.convertToFormat(QImage.Format.Format_RGB32)
        p = QPainter(marked)
        keep = QRect(box[0], box[1], box[2] - box[0], box[3] - box[1])
        shade = QColor(0, 0, 0, 150)
        full = marked.rect()
        for r in (QRect(0, 0, full.width(), keep.top()),
                  QRect(0, keep.bottom() + 1, full.width(), full.height() - keep.bottom() - 1),
                  QRect(0, keep.top(), keep.left(), keep.height()),
                  QRect(keep.right() + 1, keep.top(), full.width() - keep.right() - 1,
                        keep.height())):  # fmt: skip
            p.fillRect(r, shade)
        pen = QPen(QColor("#4fe08a"), max(2, full.width() // 200))
        p.setPen(pen)
        p.drawRect(keep)
        p.end()
        side = PREVIEW_SIDE
        mode = Qt.TransformationMode.SmoothTransformation
        aspect = Qt.AspectRatioMode.KeepAspectRatio
        self.before.setPixmap(QPixmap.fromImage(marked).scaled(side, side, aspect, mode))
        self.after.setPixmap(QPixmap.fromImage(after).scaled(side, side, aspect, mode))
        self.preview_notes.setText("; ".join(notes))

    # -- export ------------------------------------------------------------------------
    def start_export(self) -> None:
        from curation.export import export_dataset

        ws = self.session.workspace
        if ws is None:
            return
        try:
            options = self.options()
            options.validate()
        except Exception as exc:  # noqa: BLE001
            self._show_error(str(exc))
            return
        out = Path(self.out_edit.text()).expanduser()
        if self.on_options is not None:
            self.on_options(self.option_values())
        self.error.hide()
        self._cancel = CancelToken()
        bridge = _Progress(self)
        bridge.progress.connect(self._on_progress)
        self.progress.setRange(0, max(1, len(ws.items)))
        self.progress.setValue(0)
        self.progress.show()
        self.export_btn.setEnabled(False)
        self.cancel_btn.setText("Cancel")
        cancel, faces = self._cancel, dict(self.faces)
        self._job = run_in_pool(
            lambda: export_dataset(
                ws, out, options, faces=faces, cancel=cancel, on_progress=bridge.progress.emit
            ),  # fmt: skip
            on_done=self._on_done,
            on_error=lambda msg, _e: self._on_failed(msg),
        )

    def _on_progress(self, done: int, total: int, _message: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_done(self, result) -> None:
        self._job, self.result = None, result
        self.cancel_btn.setText("Close")
        items = result.items
        excluded = sum(1 for it in items if it.value and it.value.get("status") == "excluded")
        errors = [it for it in items if not it.ok]
        text = f"Exported {result.exported} images to {result.out_dir}"
        left = sum(1 for it in items if it.value and it.value.get("status") == "left-out")
        if left:
            text += f"; {left} flagged left out"
        if result.zip_path is not None:
            text += f"; zipped as {result.zip_path.name}"
        if excluded:
            text += f"; {excluded} excluded left out"
        if errors:
            text += f"; {len(errors)} not exported (e.g. {errors[0].path}: {errors[0].error})"
        if result.cancelled:
            text += "; cancelled before the end"
        text += f". What was done to each file is in {result.manifest_path.name}."
        self.summary.setText(text)
        self.summary.setStyleSheet("color: #8ff0b4;" if not errors else "color: #ffd68a;")
        self.open_btn.show()
        self.export_btn.setEnabled(False)
        log.info("Export finished: %s", text)
        self.finished_export.emit(result)

    def _on_failed(self, message: str) -> None:
        self._job = None
        self.progress.hide()
        self.export_btn.setEnabled(True)
        self.cancel_btn.setText("Close")
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _cancel_or_close(self) -> None:
        if self._job is not None and self._cancel is not None:
            self._cancel.cancel()
            return
        self.reject()


def _trigger(ws) -> str:
    """The dataset's trigger word (Dataset settings), or "" when none is set or readable."""
    try:
        return str(ws.settings().trigger or "")
    except Exception:  # noqa: BLE001 (unreadable settings: the kohya layout asks for it)
        return ""
