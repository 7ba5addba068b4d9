"""``TrainPage``: the Train tab: this dataset's runs, the new-run form and the live run.

The page is the controller's view (``TrainViewProtocol``); it owns the widgets and nothing
else. Live updates are coalesced: events only mark the page dirty, and a 100 ms timer redraws
labels and the loss chart, so a burst of events never stalls the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.train.form import RunForm
from desktop.panels.train.form_widget import RunFormWidget
from desktop.panels.train.likeness import LikenessChart, LikenessScorer
from desktop.panels.train.loss_chart import LossChart
from desktop.panels.train.samples import SamplesGallery
from training import protocol as p
from training.run_history import RunHistory

log = logging.getLogger(__name__)

RUN_COLUMNS = ("name", "status", "step", "loss", "checkpoints", "started", "duration")


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class TrainPage(QWidget):
    run_selected = Signal(str)  # run folder
    jump_requested = Signal(str)  # an image rel (a gate reason, a hardest image)
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hist: RunHistory | None = None
        self.dataset: Path | None = None  # the open dataset: the likeness reference
        self.attached = False  # the client follows a live trainer
        self._dirty = False
        self.gate_answer: bool | None = None  # tests answer the dialogs through these
        self.existing_answer: str | None = None
        self.messages: list[str] = []
        self.run_rows: list[dict[str, Any]] = []
        self._hard_drawn: tuple[int, int] | None = None  # (id of the history, its version)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.addWidget(QLabel("<b>Runs of this dataset</b>"))
        self.runs = QTableWidget(0, len(RUN_COLUMNS))
        self.runs.setHorizontalHeaderLabels([c.title() for c in RUN_COLUMNS])
        self.runs.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.runs.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.runs.cellDoubleClicked.connect(self._run_clicked)
        ll.addWidget(self.runs, 1)
        self.btn_back = QPushButton("Back to the dataset")
        self.btn_back.clicked.connect(self.back_requested)
        ll.addWidget(self.btn_back)
        split.addWidget(left)
        self.tabs = QTabWidget()
        self.form = RunFormWidget()
        self.tabs.addTab(self.form, "New run")
        self.tabs.addTab(self._build_live(), "Run")
        split.addWidget(self.tabs)
        split.setSizes([380, 1000])
        # in a scroll area: the page must not raise the main window's minimum size (the
        # stack takes the largest minimum of its pages)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(split)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(scroll)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def _build_live(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.error_panel = QFrame()
        self.error_panel.setObjectName("trainError")
        self.error_panel.setStyleSheet(
            "QFrame#trainError { background: #4a1f25; border-radius: 6px; }"
        )
        el = QHBoxLayout(self.error_panel)
        self.error_text = QLabel()
        self.error_text.setWordWrap(True)
        self.error_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.btn_lower = QPushButton("Lower the preset (NF4, lower resolution) and resume")
        self.btn_resume = QPushButton("Resume")
        el.addWidget(self.error_text, 1)
        el.addWidget(self.btn_lower)
        el.addWidget(self.btn_resume)
        self.error_panel.hide()
        lay.addWidget(self.error_panel)
        grid = QGridLayout()
        self.stats: dict[str, QLabel] = {}
        for i, key in enumerate(("phase", "step", "loss", "lr", "it/s", "ETA", "VRAM", "device")):
            label = QLabel("–")
            label.setObjectName(f"stat_{key}")
            self.stats[key] = label
            grid.addWidget(QLabel(f"<small>{key}</small>"), 0, i)
            grid.addWidget(label, 1, i)
        lay.addLayout(grid)
        buttons = QHBoxLayout()
        self.btn_stop = QPushButton("Stop (save and stop)")
        self.btn_save = QPushButton("Save now")
        self.btn_sample = QPushButton("Sample now")
        self.log_toggle = QCheckBox("log scale")
        for b in (self.btn_stop, self.btn_save, self.btn_sample):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.log_toggle)
        lay.addLayout(buttons)
        self.chart = LossChart()
        self.log_toggle.toggled.connect(self.chart.set_log_scale)
        # the likeness of each sample (scored on a worker thread) beside the loss
        self.likeness = LikenessScorer(parent=self)
        self.likeness_chart = LikenessChart()
        self.likeness.updated.connect(self.likeness_chart.set_curve)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.chart)
        charts.addWidget(self.likeness_chart)
        charts.setSizes([600, 400])
        lower = QSplitter(Qt.Orientation.Horizontal)
        self.gallery = SamplesGallery()
        self.checkpoints = QListWidget()
        self.checkpoints.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.checkpoints.customContextMenuRequested.connect(self._checkpoint_menu)
        self.checkpoints.itemDoubleClicked.connect(self._open_checkpoint)
        self.checkpoint_opener: Callable[[str], object] | None = None
        lower.addWidget(self.gallery)
        lower.addWidget(self.checkpoints)
        hard = QWidget()
        hl = QVBoxLayout(hard)
        hl.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Hardest images</b>")
        title.setToolTip(
            "Each image's loss against the usual loss at the same noise level (1.0x is "
            "ordinary). A hard outlier is often a wrong, blurry or mis-captioned image: click "
            "one to see it in the grid."
        )
        hl.addWidget(title)
        self.hardest = QListWidget()
        self.hardest.setObjectName("hardestImages")
        self.hardest.itemClicked.connect(self._hard_clicked)
        hl.addWidget(self.hardest, 1)
        lower.addWidget(hard)
        lower.setSizes([600, 220, 240])
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(charts)
        vsplit.addWidget(lower)
        lay.addWidget(vsplit, 1)
        self.set_running(False)
        return w

    # -- TrainViewProtocol ------------------------------------------------------------------
    def show_runs(self, rows: list[dict[str, Any]]) -> None:
        self.run_rows = rows
        self.runs.setRowCount(len(rows))
        for r, row in enumerate(rows):
            total = row.get("total")
            started = row.get("started")
            cells = (
                row["name"],
                row["status"],
                f"{row['step']}/{total}" if total else str(row["step"]),
                f"{row['loss']:.4f}" if row.get("loss") is not None else "–",
                str(row["checkpoints"]),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else "–",
                _hms(row.get("duration_s")),
            )
            for c, text in enumerate(cells):
                self.runs.setItem(r, c, QTableWidgetItem(text))

    def show_form(self, form: RunForm, notes: list[str]) -> None:
        self.form.set_form(form, notes)
        self.tabs.setCurrentIndex(0)

    def show_live(self, hist: RunHistory) -> None:
        if hist is not self.hist:
            self.hist = hist
            self.gallery.clear_samples()
            self.checkpoints.clear()
            self.error_panel.hide()
            self.likeness.reset(self.dataset)
            self.tabs.setCurrentIndex(1)
        self._dirty = True

    def add_sample(self, ev: p.SampleSaved) -> None:
        self.gallery.add_sample(ev)
        self.likeness.add(ev.path, ev.step)

    def add_checkpoint(self, ev: p.CheckpointSaved) -> None:
        kind = "final LoRA" if ev.state_path is None else f"step {ev.step}"
        self.checkpoints.addItem(f"{kind}: {Path(ev.path).name}")
        item = self.checkpoints.item(self.checkpoints.count() - 1)
        item.setToolTip(ev.path)
        item.setData(Qt.ItemDataRole.UserRole, ev.path)

    # -- the checkpoint list's menu: "Open in LoRA tools…" through the opener passed in -----
    def set_checkpoint_opener(self, opener: Callable[[str], object] | None) -> None:
        """``opener(path)`` opens a checkpoint in the LoRA tools (the window's)."""
        self.checkpoint_opener = opener

    def checkpoint_menu(self, item: QListWidgetItem | None) -> QMenu | None:
        if item is None or self.checkpoint_opener is None:
            return None
        menu = QMenu(self)
        menu.addAction("Open in LoRA tools…", lambda: self._open_checkpoint(item))
        return menu

    def _checkpoint_menu(self, pos) -> None:
        menu = self.checkpoint_menu(self.checkpoints.itemAt(pos))
        if menu is not None:
            menu.exec(self.checkpoints.viewport().mapToGlobal(pos))

    def _open_checkpoint(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path and self.checkpoint_opener is not None:
            self.checkpoint_opener(str(path))

    def show_error(self, ev: p.Error, can_lower_preset: bool) -> None:
        details = "".join(f"\n  {d}" for d in ev.details[:12])
        self.error_text.setText(f"<b>The trainer stopped: {ev.code}</b><br>{ev.message}{details}")
        self.btn_lower.setVisible(can_lower_preset)
        self.btn_resume.setVisible(not can_lower_preset)
        self.error_panel.show()
        self.tabs.setCurrentIndex(1)
        self.set_running(False)

    def show_interrupted(self, message: str) -> None:
        self.error_text.setText(
            f"<b>Interrupted</b><br>{message}. Resume continues from the newest complete state."
        )
        self.btn_lower.hide()
        self.btn_resume.show()
        self.error_panel.show()
        self.set_running(False)

    def ask_gate(self, reasons: list[Any], notes: list[str]) -> bool:
        if self.gate_answer is not None:
            return self.gate_answer
        from desktop.panels.train.gate_dialog import GateDialog

        dialog = GateDialog(reasons, notes, self)
        dialog.jump_requested.connect(self.jump_requested)
        return dialog.exec() == GateDialog.DialogCode.Accepted

    def ask_existing(self, name: str) -> str:
        if self.existing_answer is not None:
            return self.existing_answer
        box = QMessageBox(self)
        box.setWindowTitle("A run of this name exists")
        box.setText(f"The run '{name}' already has checkpoints.")
        resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        over = box.addButton(
            "Overwrite (move the old one aside)", QMessageBox.ButtonRole.DestructiveRole
        )
        box.addButton("New name", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        clicked = box.clickedButton()
        if clicked is resume:
            return "resume"
        if clicked is over:
            return "overwrite"
        self.form.name.setFocus()
        self.form.name.selectAll()
        return "rename"

    def show_message(self, text: str) -> None:
        self.messages.append(text)
        self.form.problems.setText(text)

    # -- drawing ----------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        for b in (self.btn_stop, self.btn_save, self.btn_sample):
            b.setEnabled(running)

    def _redraw(self) -> None:
        if not self._dirty or self.hist is None:
            return
        self._dirty = False
        h = self.hist
        s = self.stats
        phase = h.phase
        if h.cache is not None and phase.startswith("caching"):
            phase = f"caching {h.cache[0]} {h.cache[1]}/{h.cache[2]}"
        s["phase"].setText(phase or "–")
        s["step"].setText(f"{h.step}/{h.total_steps}" if h.total_steps else str(h.step))
        s["loss"].setText(f"{h.last_loss:.4f}" if h.last_loss is not None else "–")
        s["lr"].setText(f"{h.lr:.2e}" if h.lr is not None else "–")
        s["it/s"].setText(f"{h.it_s:.2f}" if h.it_s is not None else "–")
        s["ETA"].setText(_hms(h.eta_s))
        s["VRAM"].setText(f"{h.vram_gb:.1f} GB" if h.vram_gb is not None else "–")
        s["device"].setText(h.device or "–")
        self.chart.set_points(h.loss, h.total_steps)
        self.likeness_chart.set_total(h.total_steps)
        self._draw_hardest(h)
        self.set_running(self.attached and not h.ended)

    def _draw_hardest(self, h: RunHistory, n: int = 15) -> None:
        """The hardest images, redrawn only when the per-image losses moved."""
        key = (id(h), h.image_loss.version)
        if key == self._hard_drawn:
            return
        self._hard_drawn = key
        self.hardest.clear()
        for score in h.image_loss.hardest(n):
            item = QListWidgetItem(
                f"{score.relative:.1f}x  {Path(score.image).name}  (seen {score.count})"
            )
            item.setData(Qt.ItemDataRole.UserRole, score.image)
            item.setToolTip(f"{score.image}: click to show it in the grid")
            self.hardest.addItem(item)

    def _hard_clicked(self, item: QListWidgetItem) -> None:
        rel = item.data(Qt.ItemDataRole.UserRole)
        if rel:
            self.jump_requested.emit(str(rel))

    def _run_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.run_rows):
            self.run_selected.emit(self.run_rows[row]["name"])
