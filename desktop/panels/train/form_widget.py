"""``RunFormWidget``: the new-run form. The basic fields on top; "Advanced" shows every other
``RunConfig`` setting, generated from the config model (``form.advanced_specs``) with its help
text. Every edit is validated at once with the trainer's own validation; a bad field turns
red with the message as its tooltip and in the problems line.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.train.form import FieldSpec, RunForm, advanced_specs, parse_text, show_value
from training.presets import PRESET_NAMES

RED = "border: 1px solid #e05561; background: #3a1f24;"


class RunFormWidget(QWidget):
    start_requested = Signal()
    import_requested = Signal()
    export_requested = Signal()
    preset_chosen = Signal(str)
    comfy_requested = Signal()  # choose the ComfyUI folder the models are searched in

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form: RunForm | None = None
        self.widgets: dict[str, QWidget] = {}
        self._loading = False
        outer = QVBoxLayout(self)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setObjectName("trainNotes")
        outer.addWidget(self.notes)
        basic = QFormLayout()
        self.name = self._line("name")
        self.trigger = self._line("trigger")
        self.steps = self._line("train.steps")
        self.save_every = self._line("save.every")
        self.sample_every = self._line("sample.every")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESET_NAMES))
        self.preset.currentTextChanged.connect(self._preset)
        self.prompts = QPlainTextEdit()
        self.prompts.setPlaceholderText("one sample prompt per line; each starts with the trigger")
        self.prompts.setFixedHeight(130)
        self.prompts.textChanged.connect(self._prompts_changed)
        self.widgets["sample.prompts"] = self.prompts
        for label, w in (
            ("Name", self.name),
            ("Trigger", self.trigger),
            ("VRAM preset", self.preset),
            ("Steps", self.steps),
            ("Save every", self.save_every),
            ("Sample every", self.sample_every),
            ("Sample prompts", self.prompts),
        ):
            basic.addRow(label, w)
        outer.addLayout(basic)
        self.advanced = QGroupBox("Advanced (every setting of the run config)")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        adv_lay = QFormLayout()
        for spec in advanced_specs():
            w = self._make(spec)
            w.setToolTip(spec.help)
            label = QLabel(spec.path)
            label.setToolTip(spec.help)
            adv_lay.addRow(label, w)
        inner = QWidget()
        inner.setLayout(adv_lay)
        self.scroll = QScrollArea()
        self.scroll.setWidget(inner)
        self.scroll.setWidgetResizable(True)
        self.scroll.setMinimumHeight(220)
        box = QVBoxLayout(self.advanced)
        box.addWidget(self.scroll)
        self.advanced.toggled.connect(self.scroll.setVisible)
        self.scroll.setVisible(False)
        outer.addWidget(self.advanced, 1)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #ff8a8a;")
        outer.addWidget(self.problems)
        row = QHBoxLayout()
        self.btn_import = QPushButton("Import ai-toolkit job…")
        self.btn_export = QPushButton("Export ai-toolkit job…")
        self.btn_comfy = QPushButton("ComfyUI folder…")
        self.btn_comfy.setToolTip("Search models/diffusion_models|unet, text_encoders|clip, vae")
        self.btn_comfy.clicked.connect(self.comfy_requested)
        self.btn_start = QPushButton("Start training")
        self.btn_start.setDefault(True)
        self.btn_import.clicked.connect(self.import_requested)
        self.btn_export.clicked.connect(self.export_requested)
        self.btn_start.clicked.connect(self.start_requested)
        row.addWidget(self.btn_import)
        row.addWidget(self.btn_export)
        row.addWidget(self.btn_comfy)
        row.addStretch(1)
        row.addWidget(self.btn_start)
        outer.addLayout(row)

    # -- building ---------------------------------------------------------------------------
    def _line(self, path: str) -> QLineEdit:
        w = QLineEdit()
        w.textEdited.connect(lambda text, p=path: self._edited(p, parse_text(text)))
        self.widgets[path] = w
        return w

    def _make(self, spec: FieldSpec) -> QWidget:
        if spec.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda on, p=spec.path: self._edited(p, on))
        elif spec.kind == "choice":
            w = QComboBox()
            for choice in spec.choices:
                w.addItem(show_value(choice), choice)
            w.activated.connect(lambda i, p=spec.path, c=w: self._edited(p, c.itemData(i)))
        else:
            return self._line(spec.path)
        self.widgets[spec.path] = w
        return w

    # -- data in / out ----------------------------------------------------------------------
    def set_form(self, form: RunForm, notes: list[str], preset: str | None = None) -> None:
        self.form = form
        self._loading = True
        try:
            if preset:
                self.preset.setCurrentText(preset)
            for path, w in self.widgets.items():
                value = form.get(path)
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    i = w.findData(value)
                    w.setCurrentIndex(max(i, 0))
                elif isinstance(w, QPlainTextEdit):
                    w.setPlainText("\n".join(value or []))
                elif isinstance(w, QLineEdit):
                    w.setText(show_value(value) if value is not None else "")
        finally:
            self._loading = False
        self.notes.setText("\n".join(notes))
        self.show_errors(form.validate())

    def _edited(self, path: str, value: Any) -> None:
        if self._loading or self.form is None:
            return
        self.show_errors(self.form.set(path, value))

    def _prompts_changed(self) -> None:
        lines = [t.strip() for t in self.prompts.toPlainText().splitlines() if t.strip()]
        self._edited("sample.prompts", lines)

    def _preset(self, name: str) -> None:
        if not self._loading:
            self.preset_chosen.emit(name)

    def show_errors(self, errors: dict[str, str]) -> None:
        assert self.form is not None
        for path, w in self.widgets.items():
            message = self.form.error_for(path)
            w.setStyleSheet(RED if message else "")
            if message:
                w.setToolTip(message)
        self.problems.setText("\n".join(f"{k or 'config'}: {v}" for k, v in errors.items()))
        self.btn_start.setEnabled(not errors)
