"""Grid filters from face analysis (tier, pose, flag) and the chip of a rel-set filter.

``FaceFilter`` is a combo placed in the browser's filter bar; it narrows the grid through the
proxy's generic ``set_extra_predicate("faces", fn)`` hook. ``FilterChip`` shows the proxy's
rel-set filter (set by clicking an advice line, or by any other panel) with a button that
clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from desktop.panels.faces.badges import FLAG_LABELS
from desktop.widgets.elided_label import ElidedLabel

PREDICATE = "faces"


def _options() -> list[tuple[str, str | None]]:
    opts: list[tuple[str, str | None]] = [("Faces: all", None)]
    opts += [("Tier: close-up", "tier:close-up"), ("Tier: medium", "tier:medium"),
             ("Tier: full body", "tier:full-body"), ("Tier: none", "tier:")]  # fmt: skip
    opts += [("Pose: frontal", "pose:frontal"), ("Pose: three-quarter", "pose:three-quarter"),
             ("Pose: profile", "pose:profile"), ("Pose: back view", "pose:back")]  # fmt: skip
    opts += [("Back-view candidates", "special:back-candidate"),
             ("Set by hand (overrides)", "special:override"),
             ("Any warning", "special:any-flag")]  # fmt: skip
    opts += [(f"Flag: {label}", f"flag:{flag}") for flag, label in FLAG_LABELS.items()]
    return opts


def matches(key: str, img: Any) -> bool:
    """Whether one ``ImageAnalysis`` passes the filter ``key`` (see ``_options``)."""
    kind, _, value = key.partition(":")
    if kind == "tier":
        return (img.tier or "") == value
    if kind == "pose":
        return img.pose == value
    if kind == "flag":
        return value in img.flags
    if value == "back-candidate":
        return bool(img.back_view_candidate)
    if value == "override":
        return bool(img.overrides)
    if value == "any-flag":
        return bool([f for f in img.flags if f != "borderline-tier"])
    return True


class FaceFilter(QComboBox):
    """Filter the grid by an analysis verdict; ``images`` gives rel -> ImageAnalysis."""

    def __init__(self, proxy, images: Callable[[], dict[str, Any]], parent=None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self._images = images
        self.setObjectName("faceFilter")
        self.setToolTip("Show only images with this face-analysis result")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        for i, (label, key) in enumerate(_options()):
            self.addItem(label, key)
            if i in (0, 4, 8, 11):
                self.insertSeparator(self.count())
        self.currentIndexChanged.connect(lambda _i: self.apply())

    @property
    def key(self) -> str | None:
        return self.currentData()

    def set_key(self, key: str | None) -> None:
        i = self.findData(key)
        self.setCurrentIndex(max(0, i))

    def apply(self) -> None:
        """(Re)apply the filter; called again when new results arrive."""
        key = self.key
        if key is None:
            self.proxy.set_extra_predicate(PREDICATE, None)
            return
        images = self._images()

        def accept(rel: str) -> bool:
            img = images.get(rel)
            return img is not None and matches(key, img)

        self.proxy.set_extra_predicate(PREDICATE, accept)


class FilterChip(QWidget):
    """“Showing: <why> (n) ✕” while the proxy has a rel-set filter."""

    def __init__(self, proxy, parent=None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.setObjectName("filterChip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "QWidget#filterChip { background: #2c4670; border-radius: 11px; }"
            "QWidget#filterChip QLabel { color: #e6ecf7; padding: 0 2px 0 8px; }"
            "QWidget#filterChip QToolButton { border: none; color: #e6ecf7; padding: 0 6px; }"
            "QWidget#filterChip QToolButton:hover { color: #ffffff; background: #3a5a8c;"
            " border-radius: 9px; }"
        )
        # an advice line must not widen the window, but "Showing: <what>" stays readable
        self.label = ElidedLabel("", min_chars=16)
        self.clear_btn = QToolButton()
        self.clear_btn.setText("✕")
        self.clear_btn.setToolTip("Show all images again")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 2, 2, 2)
        lay.setSpacing(0)
        lay.addWidget(self.label)
        lay.addWidget(self.clear_btn)
        self.clear_btn.clicked.connect(lambda: self.proxy.set_rel_filter(None))
        proxy.extra_filters_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        rels = self.proxy.rel_filter
        if rels is None:
            self.hide()
            return
        text = self.proxy.rel_filter_label or "selected images"
        if len(text) > 60:
            text = text[:57] + "…"
        self.label.setText(f"Showing: {text} ({len(rels)})")
        self.label.setToolTip(self.proxy.rel_filter_label)
        self.show()
