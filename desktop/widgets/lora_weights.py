"""``WeightsPanel``: the LoRA dialog's Re-weight page: a named preset, a global strength and
0-200 % sliders per component and per layer range; ``weights()`` is the matching
``training.lora.weights.Weights`` (the preset's rules first, the sliders after)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

COMPONENT_SLIDERS = (
    ("adaLN", "adaLN (light, colour, contrast)"),
    ("q", "q (composition)"),
    ("k", "k (layout, prompt following)"),
    ("v", "v (subject, texture)"),
    ("out", "out (integration)"),
    ("ffn", "FFN (micro-detail, clothing)"),
)
LAYER_SLIDERS = (("0-9", "layers 0-9"), ("10-19", "layers 10-19"), ("20-29", "layers 20-29"))
LAYER_SLIDERS += (("refiners", "refiners"),)


class PercentSlider(QWidget):
    """A 0-200 % slider with its value shown; ``value()`` is the multiplier (1.0 = 100 %)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 200)
        self.slider.setValue(100)
        self.label = QLabel("100 %")
        self.label.setMinimumWidth(48)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(lambda v: self.label.setText(f"{v} %"))

    def value(self) -> float:
        return self.slider.value() / 100.0

    def set_value(self, mult: float) -> None:
        self.slider.setValue(round(mult * 100))


class WeightsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from training.lora.weights import load_presets

        self.presets = load_presets()
        self.preset = QComboBox()
        self.preset.addItem("(none)", "")
        for name, spec in self.presets.items():
            self.preset.addItem(name, name)
            self.preset.setItemData(
                self.preset.count() - 1, spec["description"], Qt.ItemDataRole.ToolTipRole
            )
        self.preset_note = QLabel("")
        self.preset_note.setWordWrap(True)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.strength = PercentSlider()
        self.component_sliders = {key: PercentSlider() for key, _ in COMPONENT_SLIDERS}
        self.layer_sliders = {key: PercentSlider() for key, _ in LAYER_SLIDERS}
        grid = QGridLayout()
        row = 0
        for label, widget in [
            ("Preset", self.preset),
            ("", self.preset_note),
            ("Strength", self.strength),
        ]:
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(widget, row, 1)
            row += 1
        for key, label in COMPONENT_SLIDERS:
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(self.component_sliders[key], row, 1)
            row += 1
        for key, label in LAYER_SLIDERS:
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(self.layer_sliders[key], row, 1)
            row += 1
        reset = QPushButton("Reset")
        reset.clicked.connect(self.reset)
        self.scale_btn = QPushButton("Save re-weighted LoRA…")
        buttons = QHBoxLayout()
        buttons.addWidget(reset)
        buttons.addStretch(1)
        buttons.addWidget(self.scale_btn)
        box = QVBoxLayout(self)
        box.addLayout(grid)
        box.addStretch(1)
        box.addLayout(buttons)

    def _preset_changed(self) -> None:
        name = self.preset.currentData()
        self.preset_note.setText(self.presets[name]["description"] if name else "")

    def reset(self) -> None:
        self.preset.setCurrentIndex(0)
        for slider in [
            self.strength,
            *self.component_sliders.values(),
            *self.layer_sliders.values(),
        ]:
            slider.set_value(1.0)

    def weights(self):
        """The Weights the Re-weight tab describes (the preset first, the sliders after)."""
        from training.lora.weights import Weights

        comps = [(k, s.value()) for k, s in self.component_sliders.items() if s.value() != 1.0]
        layers = [(k, s.value()) for k, s in self.layer_sliders.items() if s.value() != 1.0]
        mine = Weights(self.strength.value(), layers, comps)
        name = self.preset.currentData()
        return self.presets[name]["weights"].then(mine) if name else mine
