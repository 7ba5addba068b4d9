"""``DatasetFilterProxy``: sort (name, date, caption length) and filter the grid rows.

Sorting reorders the source model in Python (``ThumbnailModel.sort_by``): a proxy sort would
call ``data()`` twice per comparison, about a second for 10,000 rows. Filtering reads the
row records directly. Both are re-applied when the user changes them, not on every caption
edit, so a tile does not jump away while it is being edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal

from desktop.models.thumbnail_model import (
    CaptionLengthRole,
    MTimeRole,
    NameRankRole,
)


class SortKey(Enum):
    NAME = ("Name", NameRankRole)
    DATE = ("Date modified", MTimeRole)
    CAPTION_LENGTH = ("Caption length", CaptionLengthRole)

    @property
    def label(self) -> str:
        return self.value[0]


class FilterMode(Enum):
    ALL = "All images"
    CAPTIONED = "Captioned"
    UNCAPTIONED = "Uncaptioned"
    EXCLUDED = "Excluded"
    ERRORS = "Errors"


class DatasetFilterProxy(QSortFilterProxyModel):
    # Panels narrow the grid through generic hooks: a named set of rels with a label (e.g. the
    # images an advice line is about) and named predicates on the rel (face tier, lint flag).
    extra_filters_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self._mode = FilterMode.ALL
        self._text = ""
        self._rels: set[str] | None = None
        self.rel_filter_label = ""
        self._predicates: dict[str, Callable[[str], bool]] = {}
        self._sort = SortKey.NAME
        self._order = Qt.SortOrder.AscendingOrder

    @property
    def mode(self) -> FilterMode:
        return self._mode

    @property
    def text(self) -> str:
        return self._text

    def set_filter(self, mode: FilterMode | None = None, text: str | None = None) -> None:
        modern = hasattr(self, "beginFilterChange")  # Qt >= 6.9 deprecates invalidateFilter
        if modern:
            self.beginFilterChange()
        if mode is not None:
            self._mode = mode
        if text is not None:
            self._text = text.strip().casefold()
        if modern:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def set_rel_filter(self, rels: Iterable[str] | None, label: str = "") -> None:
        """Show only ``rels`` (None: no such filter); ``label`` says why, for a filter chip."""
        self._rels = set(rels) if rels is not None else None
        self.rel_filter_label = label if rels is not None else ""
        self.set_filter()
        self.extra_filters_changed.emit()

    @property
    def rel_filter(self) -> set[str] | None:
        return self._rels

    def set_extra_predicate(self, name: str, fn: Callable[[str], bool] | None) -> None:
        """Add (or with None remove) a named predicate ``fn(rel) -> bool`` rows must pass."""
        if fn is None:
            self._predicates.pop(name, None)
        else:
            self._predicates[name] = fn
        self.set_filter()
        self.extra_filters_changed.emit()

    def set_sort(self, key: SortKey, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort, self._order = key, order
        self.sourceModel().sort_by(key.value[1], order == Qt.SortOrder.DescendingOrder)

    def refresh(self) -> None:
        """Re-apply the filter and sort (after captions changed under it)."""
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        row = self.sourceModel().rows[source_row]  # the record itself: no data() round trips
        mode = self._mode
        captioned = row.has_caption and bool(row.caption.strip())
        if mode is FilterMode.CAPTIONED and not captioned:
            return False
        if mode is FilterMode.UNCAPTIONED and captioned:
            return False
        if mode is FilterMode.EXCLUDED and not row.excluded:
            return False
        if mode is FilterMode.ERRORS and not row.error:
            return False
        if self._rels is not None and row.rel not in self._rels:
            return False  # panel hooks: a rel set (advice line) and named predicates
        if self._predicates and not all(fn(row.rel) for fn in self._predicates.values()):
            return False
        if self._text:
            return self._text in row.rel.casefold() or self._text in row.caption.casefold()
        return True
