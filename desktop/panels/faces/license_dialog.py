"""``LicenceDialog``: the insightface model licence, asked once before its first download.

insightface's buffalo_l models are for non-commercial research only. They are downloaded
into insightface's own cache the first time that backend runs; before that the user reads
the terms here and accepts or declines. The answer is remembered in the face preferences
(``insightface_licence``); declining keeps the other backends (dlib, YuNet, Haar) in use.
Accepting starts the download in a `ModelDownloadDialog`; the backend switches when it ends.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


def licence_text() -> str:
    from curation.faces.insightface_backend import LICENSE_TEXT

    return LICENSE_TEXT


def needs_licence(root: str | None = None) -> bool:
    """True when insightface would have to download its models (not in its cache yet)."""
    import importlib.util

    if importlib.util.find_spec("insightface") is None:
        return False
    from curation.faces.insightface_backend import models_present

    return not models_present(root)


class LicenceDialog(QDialog):
    """Accept (``accepted``) or decline (``rejected``); shown window-modal with ``open()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("insightface model licence")
        self.setObjectName("licenceDialog")
        self.setMinimumWidth(520)
        title = QLabel("Download the insightface face models?")
        title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        body = QLabel(licence_text())
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        body.setOpenExternalLinks(True)
        what = QLabel(
            "insightface gives the best detection and head pose. The identity check (is "
            "every image the same person?) already works without it: Likeness ships dlib's "
            "face descriptor (public domain). The download runs in the background and can be "
            "cancelled."
        )
        what.setWordWrap(True)
        what.setObjectName("hint")
        self.accept_btn = QPushButton("Accept and download")
        self.accept_btn.setObjectName("primaryButton")
        self.decline_btn = QPushButton("Decline")
        self.decline_btn.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.decline_btn)
        buttons.addWidget(self.accept_btn)
        lay = QVBoxLayout(self)
        lay.setSpacing(10)
        lay.addWidget(title)
        lay.addWidget(body)
        lay.addWidget(what)
        lay.addLayout(buttons)
        self.accept_btn.clicked.connect(self.accept)
        self.decline_btn.clicked.connect(self.reject)
