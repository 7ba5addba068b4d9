"""``MissingModelBox``: what the autocaption dialog shows when its model is not on this
computer: a plain message (``curation.captioners.download.missing_model_message``) and the two
ways out, "Choose folder…" (a model folder already on disk) and "Open model folder" (where
downloaded models are kept)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class MissingModelBox(QWidget):
    """A plain message for a model that is not on this computer, with the two ways out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("missingModel")
        self.label = QLabel("")
        self.label.setObjectName("errorBanner")
        self.label.setWordWrap(True)
        self.choose_btn = QPushButton("Choose folder…")
        self.choose_btn.setToolTip("Use a model folder that is already on this computer")
        self.open_btn = QPushButton("Open model folder")
        self.open_btn.setToolTip("Where downloaded models are kept (copy a model folder here)")
        self.open_btn.clicked.connect(self.open_model_folder)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.open_btn)
        row.addWidget(self.choose_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addLayout(row)

    def set_message(self, text: str) -> None:
        self.label.setText(text)

    def open_model_folder(self) -> bool:
        """Show the Hugging Face model cache (its nearest existing folder) in the file
        manager; nothing is created."""
        from pathlib import Path

        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from curation.captioners.download import hub_cache_dir

        folder: Path = hub_cache_dir()
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
