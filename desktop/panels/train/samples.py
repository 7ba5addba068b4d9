"""``SamplesGallery``: preview samples as they arrive: rows = steps, columns = prompts.

Clicking a cell opens ``SampleViewer`` (the large image with its prompt); the arrow keys move
along both axes (left/right: prompts, up/down: steps). Thumbnails are decoded at their shown
size (``QImageReader.setScaledSize``), one per event, so the GUI thread stays quick.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from training import protocol as p

THUMB = 96


def load_scaled(path: str, side: int) -> QPixmap:
    reader = QImageReader(path)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return QPixmap.fromImage(image) if not image.isNull() else QPixmap()


class SamplesGallery(QTableWidget):
    sample_opened = Signal(int, int)  # row, column

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.horizontalHeader().setDefaultSectionSize(THUMB + 8)
        self.steps: list[int] = []
        self.events: dict[tuple[int, int], p.SampleSaved] = {}
        self.cellClicked.connect(self.open_cell)
        self.viewer: SampleViewer | None = None

    def clear_samples(self) -> None:
        self.setRowCount(0)
        self.setColumnCount(0)
        self.steps, self.events = [], {}

    def add_sample(self, ev: p.SampleSaved) -> None:
        if ev.step not in self.steps:
            self.steps.append(ev.step)
            self.steps.sort()
            row = self.steps.index(ev.step)
            self.insertRow(row)
            self.setVerticalHeaderItem(row, QTableWidgetItem(f"step {ev.step}"))
        row = self.steps.index(ev.step)
        if ev.index >= self.columnCount():
            self.setColumnCount(ev.index + 1)
        header = QTableWidgetItem(f"#{ev.index}")
        header.setToolTip(ev.prompt)
        self.setHorizontalHeaderItem(ev.index, header)
        item = QTableWidgetItem()
        item.setIcon(QIcon(load_scaled(ev.path, THUMB)))
        item.setToolTip(f"step {ev.step}, seed {ev.seed}\n{ev.prompt}")
        self.setItem(row, ev.index, item)
        self.events[(ev.step, ev.index)] = ev

    def event_at(self, row: int, column: int) -> p.SampleSaved | None:
        if not 0 <= row < len(self.steps):
            return None
        return self.events.get((self.steps[row], column))

    def open_cell(self, row: int, column: int) -> None:
        if self.event_at(row, column) is None:
            return
        if self.viewer is None:
            self.viewer = SampleViewer(self)
        self.viewer.show_cell(row, column)
        self.viewer.show()
        self.sample_opened.emit(row, column)


class SampleViewer(QDialog):
    """The large view of one sample; arrow keys move along prompts and steps."""

    def __init__(self, gallery: SamplesGallery) -> None:
        super().__init__(gallery)
        self.setWindowTitle("Sample")
        self.gallery = gallery
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.image, 1)
        lay.addWidget(self.caption)
        self.resize(760, 820)
        self.row = self.column = 0

    def show_cell(self, row: int, column: int) -> bool:
        ev = self.gallery.event_at(row, column)
        if ev is None:
            return False
        self.row, self.column = row, column
        self.image.setPixmap(load_scaled(ev.path, 720))
        self.caption.setText(f"step {ev.step} · prompt #{ev.index} · seed {ev.seed}\n{ev.prompt}")
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        moves = {
            Qt.Key.Key_Left: (0, -1),
            Qt.Key.Key_Right: (0, 1),
            Qt.Key.Key_Up: (-1, 0),
            Qt.Key.Key_Down: (1, 0),
        }
        move = moves.get(Qt.Key(event.key()))
        if move is None:
            super().keyPressEvent(event)
            return
        self.show_cell(self.row + move[0], self.column + move[1])
