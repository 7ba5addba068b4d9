"""``DetailView``: the large image (zoom/pan) above the caption editor, with a small zoom bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QToolButton, QVBoxLayout, QWidget

from desktop.widgets.caption_editor import CaptionEditor
from desktop.widgets.common import icon
from desktop.widgets.elided_label import ElidedLabel
from desktop.widgets.image_viewer import ImageViewer


class DetailView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailView")
        self.viewer = ImageViewer()
        self.editor = CaptionEditor()
        self.info = ElidedLabel("")  # a long file error must not widen the window
        self.info.setObjectName("imageInfo")
        self.zoom_label = QLabel("")
        self.zoom_label.setObjectName("zoomLabel")
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        bar.addWidget(self.info, 1)
        for name, tip, slot in (
            ("zoom-out", "Zoom out (-)", self.viewer.zoom_out),
            ("zoom-in", "Zoom in (+)", self.viewer.zoom_in),
            ("zoom-fit", "Fit to window (0)", self.viewer.fit),
            ("zoom-actual", "Actual size, 100% (1)", self.viewer.actual_size),
        ):
            b = QToolButton()
            b.setIcon(icon(name))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            bar.addWidget(b)
        bar.addWidget(self.zoom_label)
        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.setSpacing(0)
        top_lay.addWidget(self.viewer, 1)
        top_lay.addLayout(bar)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.editor)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.editor.setMinimumHeight(150)
        self.splitter.setSizes([600, 190])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)
        self.viewer.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.viewer.image_info.connect(self.info.setText)
