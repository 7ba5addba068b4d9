"""The checkpoint grid viewer window: the Qt view of ``GridViewerController``.

A table of thumbnails (rows = checkpoints, columns = prompts; arrow keys move: up/down = the
same prompt at another checkpoint, left/right = the next prompt), a strength and a seed switch,
score badges under each thumbnail, star / reject, a side-by-side compare of up to 4 cells with
synchronised zoom and pan, the per-checkpoint curves, "Use this checkpoint" and "Export grid".
While a grid renders, a timer refreshes the cells that appeared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.grid_viewer.controller import GridViewerController
from desktop.widgets.scaled_images import ScaledImages

THUMB = 160
MARK_COLOURS = {"star": QColor(240, 190, 40), "reject": QColor(220, 60, 60)}
CURVE_COLOURS = {"identity": "#4fc3f7", "prompt_obedience": "#aed581", "copy": "#ef5350"}


def _marked(image: QImage, mark: str | None) -> QIcon:
    """The cell's picture, framed in its mark's colour (star, reject)."""
    pix = QPixmap.fromImage(image)
    if mark in MARK_COLOURS:
        painter = QPainter(pix)
        painter.setPen(QPen(MARK_COLOURS[mark], 8))
        painter.drawRect(pix.rect().adjusted(4, 4, -4, -4))
        painter.end()
    return QIcon(pix)


class CompareView(QWidget):
    """2-4 images side by side; zoom (wheel) and pan (drag) act on all of them at once."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_ = QHBoxLayout(self)
        self.views: list[QGraphicsView] = []
        self._syncing = False

    def set_images(self, paths: Sequence[Path]) -> None:
        for v in self.views:
            v.setParent(None)
            v.deleteLater()
        self.views = []
        for path in paths:
            scene = QGraphicsScene(self)
            scene.addItem(QGraphicsPixmapItem(QPixmap(str(path))))
            view = QGraphicsView(scene)
            view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            view.setToolTip(str(path))
            view.wheelEvent = lambda e, v=view: self._zoom(1.25 if e.angleDelta().y() > 0 else 0.8)
            for bar in (view.horizontalScrollBar(), view.verticalScrollBar()):
                bar.valueChanged.connect(self._sync)
            self.layout_.addWidget(view)
            self.views.append(view)
        QTimer.singleShot(0, self.fit)

    def fit(self) -> None:
        for v in self.views:
            v.fitInView(v.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def _zoom(self, factor: float) -> None:
        for v in self.views:
            v.scale(factor, factor)

    def _sync(self, _value: int) -> None:
        if self._syncing or not self.views:
            return
        src = next((v for v in self.views if v.underMouse()), self.views[0])
        self._syncing = True
        try:
            for v in self.views:
                if v is not src:
                    v.horizontalScrollBar().setValue(src.horizontalScrollBar().value())
                    v.verticalScrollBar().setValue(src.verticalScrollBar().value())
        finally:
            self._syncing = False


class CurvesWidget(QWidget):
    """identity, prompt obedience and copy fraction against the step."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.setMinimumHeight(120)

    def set_series(self, series: dict[str, list[tuple[int, float]]]) -> None:
        self.series = series
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        points = [pt for s in self.series.values() for pt in s]
        if not points:
            p.setPen(QColor(150, 150, 150))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no scores yet: likeness rank")
            return
        steps = [s for s, _ in points]
        lo, hi = min(steps), max(steps)
        w, h, m = self.width(), self.height(), 24
        for i, (name, pts) in enumerate(self.series.items()):
            p.setPen(QPen(QColor(CURVE_COLOURS.get(name, "#ccc")), 2))
            xy = [
                (
                    m + (w - 2 * m) * ((s - lo) / (hi - lo) if hi > lo else 0.5),
                    h - m - (h - 2 * m) * v,
                )
                for s, v in pts
            ]
            for a, b in zip(xy, xy[1:], strict=False):
                p.drawLine(int(a[0]), int(a[1]), int(b[0]), int(b[1]))
            for x, y in xy:
                p.drawEllipse(int(x) - 3, int(y) - 3, 6, 6)
            p.drawText(m + i * 130, 14, name.replace("_", " "))
        p.setPen(QColor(150, 150, 150))
        p.drawText(m, h - 6, f"step {lo}")
        p.drawText(w - m - 80, h - 6, f"step {hi}")


class GridViewerWindow(QMainWindow):
    def __init__(
        self, grid_dir: str | Path, parent=None, open_lora: Callable[[str], object] | None = None
    ):
        super().__init__(parent)
        self.open_lora = open_lora  # ``open_lora(path)``: the window's LoRA tools, or None
        self.setWindowTitle(f"Checkpoint grid - {grid_dir}")
        self.resize(1300, 850)
        self.table = QTableWidget(self)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.currentCellChanged.connect(self._on_current)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.compare = CompareView(self)
        self.curves = CurvesWidget(self)
        self.strength_box, self.seed_box = QComboBox(self), QComboBox(self)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.compare)
        right.addWidget(self.curves)
        right.setSizes([560, 220])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([800, 500])
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.addWidget(split, 1)
        lay.addWidget(self.info)
        self.setCentralWidget(body)
        self._toolbar()
        # cell pictures decode off the GUI thread and stay in memory (switching the strength
        # or the seed back is instant); (row, col) -> (path, mark) of what each cell shows
        self.images = ScaledImages(THUMB, parent=self)
        self.images.ready.connect(self._on_image)
        self._cells: dict[tuple[int, int], tuple[Path, str | None]] = {}
        self.ctl = GridViewerController(self, grid_dir)
        self.timer = QTimer(self)
        self.timer.timeout.connect(lambda: self.ctl.refresh())
        self.timer.start(2000)
        self.ctl.load()

    def _toolbar(self) -> None:
        tb = QToolBar("Grid", self)
        self.addToolBar(tb)
        tb.addWidget(QLabel(" strength "))
        tb.addWidget(self.strength_box)
        tb.addWidget(QLabel(" seed "))
        tb.addWidget(self.seed_box)
        for text, key, slot in (
            ("Star", "S", lambda: self.ctl.toggle_mark("star")),
            ("Reject", "X", lambda: self.ctl.toggle_mark("reject")),
            ("Compare", "C", lambda: self.ctl.toggle_compare()),
            ("Use this checkpoint…", "Ctrl+U", self.pick),
            ("Export grid…", "Ctrl+E", self.export),
        ):
            act = tb.addAction(text, slot)
            act.setShortcut(QKeySequence(key))
        self.lora_action = tb.addAction("Open in LoRA tools…", self.open_in_lora_tools)
        self.lora_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lora_action.setVisible(self.open_lora is not None)
        self.strength_box.currentIndexChanged.connect(
            lambda i: i >= 0 and self.ctl.set_strength(self.ctl.strengths[i])
        )
        self.seed_box.currentIndexChanged.connect(
            lambda i: i >= 0 and self.ctl.set_seed(self.ctl.seeds[i])
        )

    # -- GridViewerView ------------------------------------------------------------------------
    def show_layout(self, rows, prompts, strengths, seeds) -> None:
        self.table.clear()
        self._cells.clear()
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(prompts))
        self.table.setVerticalHeaderLabels(list(rows))
        self.table.setHorizontalHeaderLabels([f"{i}: {p[:40]}" for i, p in enumerate(prompts)])
        for i, p in enumerate(prompts):
            self.table.horizontalHeaderItem(i).setToolTip(p)
        self.table.horizontalHeader().setDefaultSectionSize(THUMB + 16)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 34)
        for box, values in ((self.strength_box, strengths), (self.seed_box, seeds)):
            box.blockSignals(True)
            box.clear()
            box.addItems([f"{v:g}" for v in values])
            box.setCurrentIndex(len(values) - 1 if box is self.strength_box else 0)
            box.blockSignals(False)

    def show_cell(self, row, col, path, badge, mark) -> None:
        item = QTableWidgetItem()
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        if path is None:
            self._cells.pop((row, col), None)
            item.setText("rendering…")
        else:
            self._cells[(row, col)] = (Path(path), mark)
            image = self.images.request((row, col, Path(path)), path)
            if image is not None:
                item.setIcon(_marked(image, mark))
            item.setText(badge + ("  ★" if mark == "star" else "  ✗" if mark == "reject" else ""))
            item.setToolTip(str(path))
        self.table.setItem(row, col, item)

    def _on_image(self, token: object, image: QImage, error: str) -> None:
        row, col, path = token  # type: ignore[misc]
        shown = self._cells.get((row, col))
        item = self.table.item(row, col)
        if shown is None or shown[0] != path or item is None:
            return  # the cell shows another picture now
        if image.isNull():
            item.setToolTip(f"cannot show {path}: {error}")
            return
        item.setIcon(_marked(image, shown[1]))

    def show_current(self, row, col, info) -> None:
        if (self.table.currentRow(), self.table.currentColumn()) != (row, col):
            self.table.setCurrentCell(row, col)
        self.info.setText(info)

    def show_compare(self, paths) -> None:
        self.compare.set_images(list(paths))

    def show_curves(self, series) -> None:
        self.curves.set_series(series)

    def show_message(self, text, error=False) -> None:
        self.statusBar().showMessage(text, 10000)
        if error:
            QMessageBox.warning(self, "Checkpoint grid", text)

    # -- slots -------------------------------------------------------------------------------
    def _on_current(self, row: int, col: int, *_: int) -> None:
        if row >= 0 and col >= 0 and (row, col) != (self.ctl.row, self.ctl.col):
            self.ctl.select(row, col)

    def pick(self) -> None:
        start = self.ctl.grid_dir.parent / self.ctl.default_pick_name()
        dest, _ = QFileDialog.getSaveFileName(
            self, "Use this checkpoint: save as", str(start), "LoRA (*.safetensors)"
        )
        if not dest:
            return
        comfy = None
        if (
            QMessageBox.question(self, "ComfyUI", "Also copy it into ComfyUI's models/loras?")
            == QMessageBox.StandardButton.Yes
        ):
            folder = QFileDialog.getExistingDirectory(self, "ComfyUI models/loras folder")
            comfy = Path(folder) if folder else None
        self.ctl.pick(Path(dest), comfy, overwrite=Path(dest).exists())

    def open_in_lora_tools(self) -> None:
        """The current row's checkpoint in the LoRA tools (the base row has none)."""
        if self.open_lora is None:
            return
        path = self.ctl.checkpoint_path()
        if path is None:
            self.show_message("This row has no LoRA file (the base model, or a file moved away).")
            return
        self.open_lora(str(path))

    def export(self) -> None:
        dest, _ = QFileDialog.getSaveFileName(
            self, "Export the grid as one image", str(self.ctl.grid_dir / "grid.png"), "PNG (*.png)"
        )
        if dest:
            self.ctl.export(Path(dest))
