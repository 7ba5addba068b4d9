"""``DatasetBrowser``: filter bar + thumbnail grid beside the detail view (image + caption).

It wires the review loop: picking a tile saves the caption being edited and loads the new
one; PgUp/PgDn, Alt+Left/Right and Ctrl+Enter (save and next) move through the grid in
display order; undo/redo go through the workspace history.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.filter_proxy import DatasetFilterProxy, FilterMode, SortKey
from desktop.models.session import DatasetSession
from desktop.models.thumbnail_model import ThumbnailModel, TileRow
from desktop.settings import THUMB_MAX, THUMB_MIN
from desktop.thumbs.loader import ThumbnailLoader
from desktop.widgets.detail_view import DetailView
from desktop.widgets.thumbnail_grid import ThumbnailGrid

log = logging.getLogger(__name__)

PREFETCH_DELAY_MS = 500


class DatasetBrowser(QWidget):
    """The grid, the detail view and the caption editor of the open dataset.

    Panels talk to it through a small public surface (see
    ``desktop.panels.captions.controller.CaptionBrowser``): ``editor``, ``reveal``,
    ``clear_filter``, ``counts_changed``; never through its private methods."""

    selection_changed = Signal(int)
    size_changed = Signal(int)
    counts_changed = Signal()  # captioned / excluded counts changed (exclusions, edits)

    def __init__(
        self, session: DatasetSession, loader: ThumbnailLoader, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model = ThumbnailModel(loader, self)
        self.proxy = DatasetFilterProxy(self)
        self.grid = ThumbnailGrid(self.model, self.proxy)
        self.detail = DetailView()
        self.editor = self.detail.editor
        self.editor.save_fn = self._save_caption
        self._shown_rel = ""
        self.model.counts_changed.connect(self.counts_changed)
        self._captions_loaded = True  # False between a folder's scan and its opened state

        self.filter_combo = QComboBox()
        for mode in FilterMode:
            self.filter_combo.addItem(mode.value, mode)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names and captions  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(70)
        self.sort_combo = QComboBox()
        for key in SortKey:
            self.sort_combo.addItem(key.label, key)
        self.sort_combo.setToolTip("Sort by")
        self.order_btn = QToolButton()
        self.order_btn.setCheckable(True)
        self.order_btn.setText("↑")
        self.order_btn.setToolTip("Ascending / descending")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(THUMB_MIN, THUMB_MAX)
        self.slider.setSingleStep(16)
        self.slider.setFixedWidth(80)
        self.slider.setToolTip("Thumbnail size (Ctrl+wheel on the grid)")
        for combo in (self.filter_combo, self.sort_combo):  # never wider than the window allows
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(9)
        bar = QWidget()
        bar.setObjectName("filterBar")
        bl = QHBoxLayout(bar)
        bl.setContentsMargins(8, 6, 8, 6)
        bl.addWidget(self.filter_combo)
        bl.addWidget(self.search, 1)
        bl.addWidget(self.sort_combo)
        bl.addWidget(self.order_btn)
        bl.addSpacing(4)
        bl.addWidget(self.slider)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addWidget(bar)
        ll.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter_restored = False  # MainWindow sets it when a saved layout was applied
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)

        # the background fill of the thumbnail cache starts once the grid has painted (or
        # after PREFETCH_DELAY_MS): its two decoding threads would otherwise take the cores
        # from the first paint of a big folder
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(PREFETCH_DELAY_MS)
        self._prefetch_timer.timeout.connect(self._start_prefetch)
        self._prefetch_due = False
        self.grid.first_paint.connect(self._start_prefetch)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(self._search_timer.start)
        self.filter_combo.currentIndexChanged.connect(self._apply_filter)
        self.sort_combo.currentIndexChanged.connect(self._apply_sort)
        self.order_btn.toggled.connect(self._apply_sort)
        self.slider.valueChanged.connect(self.set_thumbnail_size)
        self.grid.size_changed.connect(self._on_grid_size)
        self.grid.current_changed.connect(self._on_current)
        self.grid.selectionModel().selectionChanged.connect(
            lambda *_: self.selection_changed.emit(
                len(self.grid.selectionModel().selectedIndexes())
            )
        )
        self.editor.edit.navigate.connect(self.navigate)
        self.editor.edit.save_and_next.connect(self.save_and_next)
        self.editor.edit.undo_requested.connect(self.undo)
        self.editor.edit.redo_requested.connect(self.redo)
        self.editor.saved.connect(self._on_saved)
        session.captions_changed.connect(self._on_captions_changed)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.splitter_restored:  # first run: give the grid a bit more than half
            self.splitter_restored = True
            QTimer.singleShot(0, self._initial_split)

    def _initial_split(self) -> None:
        w = max(1, self.splitter.width())
        self.splitter.setSizes([int(w * 0.56), w - int(w * 0.56)])

    # -- data --------------------------------------------------------------------------
    def set_rows(self, rows: list[TileRow], captions_loaded: bool = True) -> None:
        """Show a dataset. ``captions_loaded=False``: rows from the scan alone (the state is
        still opening); ``update_rows`` brings the captions without restarting the grid."""
        self._captions_loaded = captions_loaded
        self.editor.save()
        self.editor.load("", "")
        self.detail.viewer.show_image(None)
        self._shown_rel = ""
        self.grid.reset_first_paint()
        self.model.set_rows(rows)
        self.proxy.refresh()
        if self.proxy.rowCount():
            self.grid.step(0)
        self.grid.schedule_request()
        self._prefetch_due = bool(rows)
        if rows:
            self._prefetch_timer.start()
        else:
            self._prefetch_timer.stop()

    def _start_prefetch(self) -> None:
        if self._prefetch_due:
            self._prefetch_due = False
            self._prefetch_timer.stop()
            self.model.prefetch_all()

    def update_rows(self, rows: list[TileRow]) -> None:
        """The captions and flags of the folder on screen, read after its scan: the grid, its
        thumbnails, the loader's queue, the selection and the scroll position stay."""
        if not self.model.update_rows(rows):
            self.set_rows(rows)
            return
        self._captions_loaded = True
        if self.proxy.mode is not FilterMode.ALL or self.proxy.text:  # filters on captions
            self.proxy.refresh()  # (re-filtering 10,000 rows for nothing would stall the GUI)
        rel = self.grid.current_rel()
        if rel and rel == self._shown_rel and not self.editor.is_dirty():
            self._load_caption(rel)
        self.grid.schedule_request()

    def set_thumbnail_size(self, size: int) -> None:
        if self.slider.value() != size:
            self.slider.blockSignals(True)
            self.slider.setValue(size)
            self.slider.blockSignals(False)
        if self.grid.thumbnail_size() != size:
            self.grid.set_thumbnail_size(size)
        self.size_changed.emit(self.grid.thumbnail_size())

    def _on_grid_size(self, size: int) -> None:
        self.set_thumbnail_size(size)

    def reveal(self, rel: str) -> bool:
        """Select ``rel`` in the grid, lifting the panels' filters, then the user's filter
        and search when they hide it; False when the dataset has no such image."""
        if self.grid.select_rel(rel):
            return True
        self.proxy.set_extra_predicate("lint", None)
        if self.proxy.rel_filter is not None:
            self.proxy.set_rel_filter(None)
        if self.grid.select_rel(rel):
            return True
        self.clear_filter()
        return self.grid.select_rel(rel)

    def clear_filter(self) -> None:
        """Show every image: no filter, no search text."""
        self.filter_combo.setCurrentIndex(0)
        self.search.clear()
        self._apply_filter()

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.filter_combo.currentData(), self.search.text())
        self.grid.schedule_request()
        if not self.grid.currentIndex().isValid() and self.proxy.rowCount():
            self.grid.step(0)

    def _apply_sort(self, *_args) -> None:
        order = (
            Qt.SortOrder.DescendingOrder
            if self.order_btn.isChecked()
            else Qt.SortOrder.AscendingOrder
        )
        self.order_btn.setText("↓" if self.order_btn.isChecked() else "↑")
        self.proxy.set_sort(self.sort_combo.currentData(), order)
        self.grid.schedule_request()
        cur = self.grid.currentIndex()
        if cur.isValid():
            self.grid.scrollTo(cur)

    # -- review loop -----------------------------------------------------------------------
    def _on_current(self, rel: str) -> None:
        if rel == self._shown_rel:
            return
        self._save_leaving()  # autosave on leaving the image
        self._shown_rel = rel
        row = self.model.row_data(rel) if rel else None
        if row is None:
            self.editor.load("", "")
            self.detail.viewer.show_image(None)
            return
        self._load_caption(rel)
        self.detail.viewer.show_image(
            Path(row.path),
            self.model.data(
                self.model.index(self.model.row_of(rel)), Qt.ItemDataRole.DecorationRole
            ),
        )
        if row.error:
            self.detail.info.setText(row.error)

    def _load_caption(self, rel: str) -> None:
        if self._captions_loaded:
            self.editor.load(rel, self.session.caption(rel), title=rel)
        else:  # the folder is still opening: show the tile, edit once its caption is read
            self.editor.load(rel, "", title=f"{rel} (reading captions…)")
            self.editor.edit.setEnabled(False)

    def navigate(self, delta: int) -> bool:
        self._save_leaving()
        return self.grid.step(delta)

    def _save_leaving(self) -> bool:
        rel = self.editor.rel
        if self.editor.save():
            return True
        self.session.notify.emit(
            "error", f"The caption of {rel} was not saved: {self.session.pending_error(rel)}"
        )
        return False

    def save_and_next(self) -> None:
        if self.editor.save():
            self.grid.step(1)

    def undo(self) -> None:
        self.editor.save()
        self.session.undo()

    def redo(self) -> None:
        self.editor.save()
        self.session.redo()

    def _save_caption(self, rel: str, text: str) -> str | None:
        error = self.session.save_caption(rel, text, base=self.editor.base_text())
        current = self.session.caption(rel)
        self.model.update_caption(rel, current)
        from curation.workspace import EDITED_ELSEWHERE

        if error == EDITED_ELSEWHERE:
            # changed on disk meanwhile: the user's text stays in the editor, and saving
            # again replaces the new file text deliberately
            self.editor.rebase(current)
        return error

    def _on_saved(self, rel: str) -> None:
        self.model.update_caption(rel, self.session.caption(rel))

    def _on_captions_changed(self, rels: list[str]) -> None:
        for rel in rels:
            self.model.update_caption(rel, self.session.caption(rel))
        if self.editor.rel in rels and not self.editor.is_dirty():
            self.editor.reload_text(self.session.caption(self.editor.rel))
