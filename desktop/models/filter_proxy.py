"""``DatasetFilterProxy``: sort (name, date, caption length) and filter the grid rows.

Sorting compares integer roles in C++ (no Python ``lessThan``), so re-sorting 10,000 rows
is instant. Sorting and filtering are re-applied when the user changes them, not on every
caption edit, so a tile does not jump away while it is being edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal

from desktop.models.thumbnail_model import (
    CaptionLengthRole,
    CaptionRole,
    ErrorRole,
    ExcludedRole,
    HasCaptionRole,
    MTimeRole,
    NameRankRole,
    RelRole,
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
        self.setSortRole(NameRankRole)

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
        self.sort(0, self._order)

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
        self.setSortRole(key.value[1])
        self.sort(0, order)

    def refresh(self) -> None:
        """Re-apply the filter and sort (after captions changed under it)."""
        self.invalidate()
        self.sort(0, self._order)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        model = self.sourceModel()
        idx = model.index(source_row, 0, source_parent)
        mode = self._mode
        if mode is FilterMode.CAPTIONED and not idx.data(HasCaptionRole):
            return False
        if mode is FilterMode.UNCAPTIONED and idx.data(HasCaptionRole):
            return False
        if mode is FilterMode.EXCLUDED and not idx.data(ExcludedRole):
            return False
        if mode is FilterMode.ERRORS and not idx.data(ErrorRole):
            return False
        if self._rels is not None or self._predicates:
            rel = idx.data(RelRole)
            if self._rels is not None and rel not in self._rels:
                return False
            if not all(fn(rel) for fn in self._predicates.values()):
                return False
        if self._text:
            hay = f"{idx.data(RelRole)}\n{idx.data(CaptionRole)}".casefold()
            return self._text in hay
        return True
