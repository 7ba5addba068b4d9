"""``PreferencesDialog``: edit ``Preferences`` (saved to YAML by the caller on accept)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.settings import THUMB_MAX, THUMB_MIN, Preferences, preferences_path

THEME_LABELS = [("dark", "Dark"), ("light", "Light"), ("system", "Follow the system")]
TOOLBAR_LABELS = [
    ("beside", "Text beside icons"),
    ("under", "Text under icons"),
    ("none", "Icons only (names in tooltips)"),
]


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self.thumb = QSpinBox()
        self.thumb.setRange(THUMB_MIN, THUMB_MAX)
        self.thumb.setSingleStep(16)
        self.thumb.setSuffix(" px")
        self.thumb.setValue(prefs.thumbnail_size)
        self.snippet = QCheckBox("Show a caption snippet under each thumbnail")
        self.snippet.setChecked(prefs.show_caption_snippet)
        self.delay = QSpinBox()
        self.delay.setRange(100, 10_000)
        self.delay.setSingleStep(100)
        self.delay.setSuffix(" ms")
        self.delay.setValue(prefs.autosave_delay_ms)
        self.megapixels = QDoubleSpinBox()
        self.megapixels.setRange(1, 2000)
        self.megapixels.setDecimals(0)
        self.megapixels.setSuffix(" MP")
        self.megapixels.setValue(prefs.max_image_megapixels)
        self.recursive = QCheckBox("Include subfolders when opening a folder")
        self.recursive.setChecked(prefs.recursive_scan)
        self.theme = QComboBox()
        for key, label in THEME_LABELS:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(prefs.theme)))
        self.toolbar = QComboBox()
        for key, label in TOOLBAR_LABELS:
            self.toolbar.addItem(label, key)
        self.toolbar.setCurrentIndex(max(0, self.toolbar.findData(prefs.toolbar_labels)))
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Toolbar", self.toolbar)
        form.addRow("Thumbnail size", self.thumb)
        form.addRow("", self.snippet)
        form.addRow("Autosave after a typing pause of", self.delay)
        form.addRow("Largest image to open", self.megapixels)
        form.addRow("", self.recursive)
        note = QLabel(f"Saved in {preferences_path()}")
        note.setObjectName("hint")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self._prefs = prefs

    def result_preferences(self) -> Preferences:
        """A copy of the preferences with the dialog's values."""
        return self._prefs.model_copy(
            update={
                "thumbnail_size": self.thumb.value(),
                "show_caption_snippet": self.snippet.isChecked(),
                "autosave_delay_ms": self.delay.value(),
                "max_image_megapixels": float(self.megapixels.value()),
                "recursive_scan": self.recursive.isChecked(),
                "theme": self.theme.currentData(),
                "toolbar_labels": self.toolbar.currentData(),
            }
        )
