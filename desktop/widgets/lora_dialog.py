"""``LoraDialog``: the LoRA tools for one file. Self-contained: any screen opens it with a path
(``LoraDialog(path)``; the Train tab's checkpoint list, the grid viewer and Tools menu do).

Tabs: Inspect (facts + a per-block delta-norm chart), Re-weight (strength, per-component and
per-layer-range sliders, named presets), Merge (other LoRAs with weights, exact or to a rank),
Resize (SVD to a rank, energy kept), Export (convert to another trainer's layout, a ComfyUI
workflow, Send to ComfyUI), Preview (one prompt before/after the Re-weight sliders, rendered by
the grid renderer in a child process: ``desktop.widgets.lora_preview``). All work runs through ``training.lora`` on the thread pool; every
output goes to a new file the user names (inputs are never overwritten).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.bar_chart import BarChart
from desktop.widgets.lora_preview import PreviewPanel
from desktop.widgets.lora_weights import WeightsPanel
from desktop.workers import run_in_pool

log = logging.getLogger(__name__)

FILTER = "LoRA (*.safetensors)"
FORMATS = ("likeness", "comfyui", "diffusers", "musubi", "musubi-fused")


class LoraDialog(QDialog):
    def __init__(self, path: str | None = None, parent: QWidget | None = None, prefs=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("LoRA tools")
        self.setObjectName("loraDialog")
        self.resize(820, 680)
        self.prefs = prefs
        self.path: str | None = None
        self.report = None
        self.busy = False
        self.last_result: Any = None
        self._job = None

        self.file_label = QLabel("No LoRA open")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_btn = QPushButton("Open…")
        open_btn.clicked.connect(self.choose_file)
        top = QHBoxLayout()
        top.addWidget(self.file_label, 1)
        top.addWidget(open_btn)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._inspect_tab(), "Inspect")
        self.weights_panel = WeightsPanel()
        self.scale_btn = self.weights_panel.scale_btn
        self.scale_btn.clicked.connect(self.save_scaled)
        self.tabs.addTab(self.weights_panel, "Re-weight")
        self.tabs.addTab(self._merge_tab(), "Merge")
        self.tabs.addTab(self._resize_tab(), "Resize")
        self.tabs.addTab(self._export_tab(), "Export")
        self.preview = PreviewPanel(lambda: self.path, self.weights_panel.weights)
        self.tabs.addTab(self.preview, "Preview")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("loraStatus")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        self._set_enabled(False)
        if path:
            self.open_path(path)

    # -- tabs --------------------------------------------------------------------------
    def _inspect_tab(self) -> QWidget:
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setMaximumHeight(180)
        self.chart = BarChart()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.chart)
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(self.summary)
        box.addWidget(QLabel("Weight-delta norm per block"))
        box.addWidget(scroll, 1)
        return page

    def _merge_tab(self) -> QWidget:
        self.merge_list = QListWidget()
        self.merge_weight = QDoubleSpinBox()
        self.merge_weight.setRange(-2.0, 2.0)
        self.merge_weight.setSingleStep(0.05)
        self.merge_weight.setValue(1.0)
        self.own_weight = QDoubleSpinBox()
        self.own_weight.setRange(-2.0, 2.0)
        self.own_weight.setSingleStep(0.05)
        self.own_weight.setValue(1.0)
        self.merge_rank = QSpinBox()
        self.merge_rank.setRange(0, 1024)
        self.merge_rank.setSpecialValueText("exact (ranks add up)")
        add = QPushButton("Add LoRA…")
        add.clicked.connect(self.add_merge_input)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self.merge_list.takeItem(self.merge_list.currentRow()))
        self.merge_btn = QPushButton("Merge into…")
        self.merge_btn.clicked.connect(self.save_merged)
        form = QFormLayout()
        form.addRow("This LoRA's weight", self.own_weight)
        form.addRow("Weight of the next added LoRA", self.merge_weight)
        form.addRow("Rank of the result", self.merge_rank)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        row.addWidget(self.merge_btn)
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(QLabel("Other LoRAs (the Re-weight tab's sliders apply to all of them)"))
        box.addWidget(self.merge_list, 1)
        box.addLayout(form)
        box.addLayout(row)
        return page

    def _resize_tab(self) -> QWidget:
        self.resize_rank = QSpinBox()
        self.resize_rank.setRange(1, 1024)
        self.resize_rank.setValue(16)
        self.resize_btn = QPushButton("Resize into…")
        self.resize_btn.clicked.connect(self.save_resized)
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("New rank", self.resize_rank)
        form.addRow("", self.resize_btn)
        return page

    def _export_tab(self) -> QWidget:
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.dtype = QComboBox()
        self.dtype.addItems(["same as the input", "bf16", "fp16", "fp32"])
        self.convert_btn = QPushButton("Convert into…")
        self.convert_btn.clicked.connect(self.save_converted)
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setRange(-2.0, 2.0)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setValue(0.8)
        self.prompt = QLineEdit()
        self.comfy_dir = QLineEdit(getattr(self.prefs, "comfyui_dir", "") or "")
        self.comfy_dir.setPlaceholderText("your ComfyUI folder (holds models/)")
        browse = QPushButton("…")
        browse.clicked.connect(self.choose_comfy_dir)
        comfy_row = QHBoxLayout()
        comfy_row.addWidget(self.comfy_dir, 1)
        comfy_row.addWidget(browse)
        self.workflow_btn = QPushButton("Save ComfyUI workflow…")
        self.workflow_btn.clicked.connect(self.save_workflow)
        self.send_btn = QPushButton("Send to ComfyUI")
        self.send_btn.clicked.connect(self.send_to_comfyui)
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Key layout", self.format)
        form.addRow("Precision", self.dtype)
        form.addRow("", self.convert_btn)
        form.addRow(QLabel("ComfyUI"))
        form.addRow("LoRA strength", self.strength_spin)
        form.addRow("Prompt", self.prompt)
        form.addRow("ComfyUI folder", comfy_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.workflow_btn)
        buttons.addWidget(self.send_btn)
        form.addRow("", buttons)
        return page

    def done(self, result: int) -> None:  # closing: end a preview render, drop its temp folder
        self.preview.shutdown()
        super().done(result)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.preview.shutdown()
        super().closeEvent(event)

    # -- file choice (tests replace ask_open / ask_save) ---------------------------------
    def ask_open(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a LoRA", "", FILTER)
        return path or None

    def ask_save(self, suggested: str, filter_: str = FILTER) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", suggested, filter_)
        return path or None

    def choose_file(self) -> None:
        path = self.ask_open()
        if path:
            self.open_path(path)

    def choose_comfy_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "ComfyUI folder", self.comfy_dir.text())
        if folder:
            self.comfy_dir.setText(folder)

    def _suggest(self, suffix: str, ext: str = ".safetensors") -> str:
        src = Path(self.path or "lora.safetensors")
        return str(src.with_name(f"{src.stem}-{suffix}{ext}"))

    # -- work ----------------------------------------------------------------------------
    def _set_enabled(self, on: bool) -> None:
        for btn in (self.scale_btn, self.merge_btn, self.resize_btn, self.convert_btn,
                    self.workflow_btn, self.send_btn):  # fmt: skip
            btn.setEnabled(on)

    def _run(self, what: str, fn, on_done) -> None:
        self.busy = True
        self._set_enabled(False)
        self.status.setText(f"{what}…")

        def done(result) -> None:
            self.busy = False
            self.last_result = result
            on_done(result)  # may set self.path (opening a file): enable the buttons after it
            self._set_enabled(self.path is not None)

        def failed(message: str, _exc) -> None:
            self.busy = False
            self._set_enabled(self.path is not None)
            self.last_result = None
            self.status.setText(f"{what} failed: {message}")

        self._job = run_in_pool(fn, done, failed)

    def open_path(self, path: str) -> None:
        from training.lora.inspect import inspect_lora
        from training.lora.io import load_lora

        def work():
            return inspect_lora(load_lora(path))

        def done(report) -> None:
            self.path, self.report = path, report
            self.file_label.setText(path)
            self.summary.setPlainText("\n".join(report.lines()[: -len(report.block_norms) - 1]))
            self.chart.set_items(list(report.block_norms.items()))
            self.prompt.setText(
                f"a photo of {report.facts['trigger']}" if "trigger" in report.facts else ""
            )
            if not self.preview.prompt.text():
                self.preview.prompt.setText(self.prompt.text())
            self.preview.refresh()
            self.status.setText(f"{Path(path).name}: {report.format}, rank "
                                f"{', '.join(map(str, report.ranks))}")  # fmt: skip

        self._run(f"Reading {Path(path).name}", work, done)

    def _saved(self, result) -> None:
        self.status.setText(f"Wrote {getattr(result, 'out', result)}")

    def save_scaled(self) -> None:
        out = self.ask_save(self._suggest("reweighted"))
        if not out:
            return
        src, weights = self.path, self.weights_panel.weights()

        def work():
            from training.lora.tools import scale_file

            return scale_file(src, out, weights, overwrite=True)

        self._run("Re-weighting", work, self._saved)

    def add_merge_input(self) -> None:
        path = self.ask_open()
        if path:
            item = QListWidgetItem(f"{self.merge_weight.value():g} × {path}")
            item.setData(Qt.ItemDataRole.UserRole, (path, self.merge_weight.value()))
            self.merge_list.addItem(item)

    def merge_inputs(self) -> list[tuple[str, float]]:
        items = [self.merge_list.item(i) for i in range(self.merge_list.count())]
        return [(self.path, self.own_weight.value())] + [
            i.data(Qt.ItemDataRole.UserRole) for i in items
        ]

    def save_merged(self) -> None:
        inputs = self.merge_inputs()
        if len(inputs) < 2:
            self.status.setText("Add at least one other LoRA to merge with.")
            return
        out = self.ask_save(self._suggest("merged"))
        if not out:
            return
        weights, rank = self.weights_panel.weights(), self.merge_rank.value() or None

        def work():
            from training.lora.tools import merge_files

            return merge_files(inputs, out, weights, rank=rank, overwrite=True)

        def done(result) -> None:
            extra = f"; energy kept {result.energy.mean:.1%} on average" if result.energy else ""
            self.status.setText(f"Wrote {result.out}{extra}")

        self._run("Merging", work, done)

    def save_resized(self) -> None:
        rank = self.resize_rank.value()
        out = self.ask_save(self._suggest(f"rank{rank}"))
        if not out:
            return
        src = self.path

        def work():
            from training.lora.tools import resize_file

            return resize_file(src, out, rank, overwrite=True)

        def done(result) -> None:
            name, low = result.energy.worst
            self.status.setText(
                f"Wrote {result.out}: energy kept {result.energy.mean:.1%} on average, "
                f"lowest {low:.1%} ({name})"
            )

        self._run("Resizing", work, done)

    def save_converted(self) -> None:
        fmt = self.format.currentText()
        dtype = None if self.dtype.currentIndex() == 0 else self.dtype.currentText()
        out = self.ask_save(self._suggest(fmt))
        if not out:
            return
        src = self.path

        def work():
            from training.lora.tools import convert_file

            return convert_file(src, out, fmt, dtype=dtype, overwrite=True)

        def done(result) -> None:
            verdict = "identical deltas" if result.identical else "NOT identical"
            self.status.setText(
                f"Wrote {result.out} ({verdict}, largest difference {result.max_difference:.1e})"
            )

        self._run("Converting", work, done)

    def _workflow_options(self):
        from training.lora.comfyui import WorkflowOptions

        return WorkflowOptions(
            Path(self.path).name, strength=self.strength_spin.value(), prompt=self.prompt.text()
        )

    def save_workflow(self) -> None:
        out = self.ask_save(self._suggest("workflow", ".json"), "ComfyUI workflow (*.json)")
        if not out:
            return
        options, folder = self._workflow_options(), self.comfy_dir.text().strip()

        def work():
            from training.lora.comfyui import find_comfyui, ui_workflow, write_json_atomic

            comfy = find_comfyui(folder) if folder else None
            if comfy is not None:
                options.unet, options.clip, options.vae = comfy.unet, comfy.clip, comfy.vae
            return write_json_atomic(ui_workflow(options), Path(out))

        self._run("Writing the workflow", work, self._saved)

    def send_to_comfyui(self) -> None:
        folder = self.comfy_dir.text().strip()
        if not folder:
            self.status.setText("Choose your ComfyUI folder first.")
            return
        if self.prefs is not None and getattr(self.prefs, "comfyui_dir", None) != folder:
            self._remember_comfy_dir(folder)
        src, options = self.path, self._workflow_options()

        def work():
            from training.lora.comfyui import find_comfyui, send_to_comfyui

            return send_to_comfyui(src, find_comfyui(folder), options)

        def done(sent) -> None:
            notes = "".join(f"\n{n}" for n in sent.notes)
            self.status.setText(f"LoRA in {sent.lora}, workflow {sent.workflow}{notes}")

        self._run("Sending to ComfyUI", work, done)

    def _remember_comfy_dir(self, folder: str) -> None:
        from desktop.settings import PreferencesError, save_preferences

        try:
            self.prefs.comfyui_dir = folder
            save_preferences(self.prefs)
        except (PreferencesError, OSError, ValueError) as exc:
            log.warning("cannot save the ComfyUI folder in the preferences: %s", exc)
