"""The page shown when no folder is open: a big "Open a folder" button and a drop hint."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.widgets.common import icon


class EmptyState(QWidget):
    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Open a folder of images")
        title.setObjectName("emptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub = QLabel(
            "Likeness reads your images and their .txt captions. "
            "Images are never modified.\nOr drop a folder anywhere on this window."
        )
        sub.setObjectName("emptySub")
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("  Open folder…")
        self.button.setObjectName("primaryButton")
        self.button.setIcon(icon("folder-open"))
        self.button.setIconSize(QSize(22, 22))
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self.open_requested)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        lay.addWidget(logo)
        lay.addSpacing(12)
        lay.addWidget(title)
        lay.addWidget(sub)
        lay.addSpacing(18)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(18)
        lay.addLayout(self.recent_box)
        lay.addStretch(3)

    def set_recent(self, folders: list[str]) -> None:
        while self.recent_box.count():
            w = self.recent_box.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if not folders:
            return
        head = QLabel("Recent folders")
        head.setObjectName("emptySub")
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent_box.addWidget(head)
        for folder in folders[:5]:
            b = QPushButton(folder)
            b.setObjectName("linkButton")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False, f=folder: self.recent_requested.emit(f))
            self.recent_box.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
