"""``SamplesGallery``: preview samples as they arrive: rows = steps, columns = prompts.

Clicking a cell opens ``SampleViewer`` (the large image with its prompt); the arrow keys move
along both axes (left/right: prompts, up/down: steps). Thumbnails are decoded off the GUI
thread at their shown size (``QImageReader.setScaledSize``; a PNG is still decoded whole,
~30 ms for 1024 px): reopening a run with a hundred samples shows its table at once and the
pictures fill in, newest steps first. A cell shows "…" until its picture arrives and the
reason when the file cannot be read.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.scaled_images import ScaledImages, read_scaled
from training import protocol as p

THUMB = 96


def load_scaled(path: str, side: int) -> QPixmap:
    image, _error = read_scaled(path, side)
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
        self.images = ScaledImages(THUMB, parent=self)
        self.images.ready.connect(self._on_decoded)

    def clear_samples(self) -> None:
        self.images.reset()  # the pictures of the previous run still queued are dropped
        self.setRowCount(0)
        self.setColumnCount(0)
        self.steps, self.events = [], {}

    def pending(self) -> int:
        """Pictures still being decoded (tests, benchmarks)."""
        return self.images.pending()

    def wait_decoded(self, msecs: int = 10000) -> bool:
        return self.images.wait(msecs)

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
        item = QTableWidgetItem("…")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setToolTip(f"step {ev.step}, seed {ev.seed}\n{ev.prompt}")
        self.setItem(row, ev.index, item)
        self.events[(ev.step, ev.index)] = ev
        # the newest step first (higher priority runs first)
        image = self.images.request((ev.step, ev.index, ev.path), ev.path, priority=ev.step)
        if image is not None:
            self._on_decoded((ev.step, ev.index, ev.path), image, "")

    def _on_decoded(self, token: object, image: QImage, error: str) -> None:
        step, index, path = token  # type: ignore[misc]
        ev = self.events.get((step, index))
        if ev is None or ev.path != path or step not in self.steps:
            return  # another sample shows there now
        item = self.item(self.steps.index(step), index)
        if item is None:
            return
        if image.isNull():
            item.setText("!")
            item.setToolTip(f"step {step}: cannot show {ev.path}: {error}\n{ev.prompt}")
            return
        item.setText("")
        item.setIcon(QIcon(QPixmap.fromImage(image)))

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
