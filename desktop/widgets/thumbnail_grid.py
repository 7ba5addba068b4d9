"""``ThumbnailGrid``: a ``QListView`` in icon mode over the filter proxy.

Virtualized: uniform item sizes, one delegate, no widget per tile. After every scroll,
resize, sort or filter it works out which tiles are on screen (plus one screen ahead) and
asks the model for exactly those thumbnails; everything else waits. Ctrl+wheel resizes.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop.models.filter_proxy import DatasetFilterProxy
from desktop.models.thumbnail_model import RelRole, ThumbnailModel
from desktop.settings import THUMB_MAX, THUMB_MIN
from desktop.thumbs.cache import bucket_for
from desktop.widgets.thumbnail_delegate import ThumbnailDelegate

SPACING = 6


class ThumbnailGrid(QListView):
    current_changed = Signal(str)  # rel of the current tile ("" when none)
    activated_rel = Signal(str)  # double click / Enter
    size_changed = Signal(int)  # thumbnail size after Ctrl+wheel
    first_paint = Signal()

    def __init__(
        self, model: ThumbnailModel, proxy: DatasetFilterProxy, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.source = model
        self.proxy = proxy
        proxy.setSourceModel(model)
        self.setModel(proxy)
        self.delegate = ThumbnailDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(40)
        self.setMouseTracking(True)
        self.setObjectName("thumbnailGrid")
        self._painted = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(25)
        self._timer.timeout.connect(self.request_visible)
        self.verticalScrollBar().valueChanged.connect(self.schedule_request)
        for sig in (proxy.modelReset, proxy.layoutChanged, proxy.rowsInserted, proxy.rowsRemoved):
            sig.connect(self.schedule_request)
        self.selectionModel().currentChanged.connect(self._on_current)
        self.doubleClicked.connect(lambda idx: self.activated_rel.emit(idx.data(RelRole) or ""))
        self.set_thumbnail_size(192)

    # -- size ---------------------------------------------------------------------------
    def thumbnail_size(self) -> int:
        return self.delegate.thumb_size

    def set_thumbnail_size(self, size: int) -> None:
        size = max(THUMB_MIN, min(THUMB_MAX, int(size)))
        self.delegate.thumb_size = size
        self._update_grid()
        self.scheduleDelayedItemsLayout()
        self.schedule_request()

    def _update_grid(self) -> None:
        """Grow the tiles (from the chosen size up) so whole columns fill the width."""
        from desktop.widgets.thumbnail_delegate import PAD

        want = self.delegate.thumb_size
        avail = self.viewport().width() - 4
        cell_min = want + 2 * PAD + SPACING
        cols = max(1, avail // cell_min)
        draw = max(want, (avail // cols) - SPACING - 2 * PAD) if avail > cell_min else want
        dpr = self.devicePixelRatioF()
        bucket = bucket_for(int(want * dpr))
        draw = min(draw, max(want, int(bucket / dpr)))  # never upscale the cached thumbnail
        self.delegate.draw_size = draw
        hint = self.delegate.sizeHint(None, QModelIndex())  # type: ignore[arg-type]
        size = QSize(hint.width() + SPACING, hint.height() + SPACING)
        if size != self.gridSize():
            self.setGridSize(size)
        self.source.set_thumbnail_pixels(int(want * dpr))

    def set_show_caption(self, show: bool) -> None:
        self.delegate.show_caption = show
        self.set_thumbnail_size(self.delegate.thumb_size)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 16 if event.angleDelta().y() > 0 else -16
            self.set_thumbnail_size(self.delegate.thumb_size + step)
            self.size_changed.emit(self.delegate.thumb_size)
            event.accept()
            return
        super().wheelEvent(event)

    # -- visible rows -------------------------------------------------------------------
    def schedule_request(self, *_args) -> None:
        self._timer.start()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_grid()
        self.schedule_request()

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted and self.proxy.rowCount() > 0:
            self._painted = True
            self.first_paint.emit()

    def reset_first_paint(self) -> None:
        self._painted = False

    def visible_proxy_rows(self, ahead_screens: float = 1.0) -> range:
        """Proxy rows on screen, plus ``ahead_screens`` screens below (read-ahead)."""
        n = self.proxy.rowCount()
        if n == 0:
            return range(0)
        grid = self.gridSize()
        first_rect = self.visualRect(self.proxy.index(0, 0))
        cols = self._columns(n, first_rect.top())
        line_h = max(1, grid.height())
        top_line = max(0, (-first_rect.top()) // line_h)
        lines = self.viewport().height() // line_h + 2
        extra = int(lines * ahead_screens)
        start = top_line * cols
        stop = min(n, (top_line + lines + extra) * cols)
        return range(start, stop)

    def _columns(self, n: int, top: int) -> int:
        lo, hi = 1, min(n, 1000)  # first proxy row on the second line
        if self.visualRect(self.proxy.index(hi - 1, 0)).top() == top:
            return hi
        while lo < hi:
            mid = (lo + hi) // 2
            if self.visualRect(self.proxy.index(mid, 0)).top() == top:
                lo = mid + 1
            else:
                hi = mid
        return max(1, lo)

    def request_visible(self) -> None:
        rows = []
        for r in self.visible_proxy_rows():
            src = self.proxy.mapToSource(self.proxy.index(r, 0))
            if src.isValid():
                rows.append(src.row())
        self.source.request_rows(rows)

    # -- selection ------------------------------------------------------------------------
    def selected_rels(self) -> list[str]:
        rows = sorted(self.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [i.data(RelRole) for i in rows]

    def current_rel(self) -> str:
        idx = self.currentIndex()
        return idx.data(RelRole) if idx.isValid() else ""

    def select_rel(self, rel: str) -> bool:
        row = self.source.row_of(rel)
        if row < 0:
            return False
        idx = self.proxy.mapFromSource(self.source.index(row))
        if not idx.isValid():
            return False
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(idx)
        return True

    def step(self, delta: int) -> bool:
        """Move the current tile by ``delta`` rows in display order; False at either end."""
        n = self.proxy.rowCount()
        if n == 0:
            return False
        cur = self.currentIndex()
        row = cur.row() + delta if cur.isValid() else 0
        if not 0 <= row < n:
            return False
        idx = self.proxy.index(row, 0)
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(idx)
        return True

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_changed.emit(current.data(RelRole) if current.isValid() else "")
