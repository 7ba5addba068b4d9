"""``DuplicateReview``: near-duplicate groups side by side, one group at a time.

Each image is a card with its size, sharpness and tier; the suggested keeper (the sharpest)
is marked. Keep / Exclude act on one image, "Keep the suggested one" on the whole group.
Excluding never touches a file: the image is only left out of training and exports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.faces.previews import ImageTile

CARD_STYLE = """
QFrame#reviewCard { background: #22262d; border: 1px solid #2f353f; border-radius: 10px; }
QFrame#reviewCard[keeper="true"] { border: 2px solid #3fae6a; }
QLabel#cardName { font-weight: 600; color: #e6e8ec; }
QLabel#cardInfo { color: #9aa3af; }
QLabel#keeperMark { color: #8ff0b4; font-weight: 700; }
QLabel#cardState[state="excluded"] { color: #ff8a8a; font-weight: 600; }
QLabel#cardState[state="kept"] { color: #8ff0b4; }
QLabel#reviewTitle { font-size: 13pt; font-weight: 600; }
"""


class ReviewCard(QFrame):
    def __init__(self, root: Path, rel: str, img: Any, keeper: bool, side: int = 260) -> None:
        super().__init__()
        self.rel = rel
        self.setObjectName("reviewCard")
        self.setProperty("keeper", "true" if keeper else "false")
        self.tile = ImageTile(side)
        self.tile.show_path(root / rel)
        name = QLabel(rel)
        name.setObjectName("cardName")
        name.setWordWrap(True)
        parts = []
        if img is not None:
            parts.append(f"{img.width}×{img.height}")
            if img.sharpness is not None:
                parts.append(f"sharpness {img.sharpness:.0f}")
            if img.tier:
                parts.append(img.tier)
        info = QLabel(" · ".join(parts))
        info.setObjectName("cardInfo")
        self.mark = QLabel("★ Suggested keeper (sharpest)" if keeper else "")
        self.mark.setObjectName("keeperMark")
        self.state = QLabel("")
        self.state.setObjectName("cardState")
        self.keep_btn = QPushButton("Keep")
        self.exclude_btn = QPushButton("Exclude")
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_btn)
        buttons.addWidget(self.exclude_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.addWidget(self.tile, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(name)
        lay.addWidget(info)
        lay.addWidget(self.mark)
        lay.addWidget(self.state)
        lay.addLayout(buttons)

    def set_excluded(self, excluded: bool) -> None:
        self.state.setText("Excluded from training" if excluded else "Kept in the dataset")
        self.state.setProperty("state", "excluded" if excluded else "kept")
        self.state.style().unpolish(self.state)
        self.state.style().polish(self.state)
        self.keep_btn.setEnabled(excluded)
        self.exclude_btn.setEnabled(not excluded)


class DuplicateReview(QDialog):
    excluded_changed = Signal(list, bool)

    def __init__(
        self,
        root: Path,
        groups: list[Any],
        images: dict[str, Any],
        is_excluded: Callable[[str], bool],
        set_excluded: Callable[[list[str], bool], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review near-duplicates")
        self.setObjectName("duplicateReview")
        self.setStyleSheet(CARD_STYLE)
        self.resize(980, 620)
        self.root = Path(root)
        self.groups = list(groups)
        self.images = images
        self.is_excluded = is_excluded
        self._set_excluded = set_excluded
        self.index = 0
        self.cards: list[ReviewCard] = []
        self.title = QLabel("")
        self.title.setObjectName("reviewTitle")
        self.hint = QLabel(
            "These images are nearly the same. Training on both adds nothing but weight on "
            "this one look: keep one (the sharpest is suggested) and exclude the others. "
            "Files are never deleted."
        )
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.row = QHBoxLayout()
        self.row.setSpacing(12)
        holder = QWidget()
        holder.setLayout(self.row)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        self.prev_btn = QPushButton("◀ Previous group")
        self.next_btn = QPushButton("Next group ▶")
        self.keep_suggested_btn = QPushButton("Keep the suggested one, exclude the others")
        self.keep_suggested_btn.setObjectName("primaryButton")
        close = QPushButton("Close")
        footer = QHBoxLayout()
        footer.addWidget(self.prev_btn)
        footer.addWidget(self.next_btn)
        footer.addStretch(1)
        footer.addWidget(self.keep_suggested_btn)
        footer.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addWidget(scroll, 1)
        lay.addLayout(footer)
        self.prev_btn.clicked.connect(lambda: self.show_group(self.index - 1))
        self.next_btn.clicked.connect(lambda: self.show_group(self.index + 1))
        self.keep_suggested_btn.clicked.connect(self.keep_suggested)
        close.clicked.connect(self.accept)
        self.show_group(0)

    @property
    def group(self) -> Any:
        return self.groups[self.index] if self.groups else None

    def show_group(self, index: int) -> None:
        if not self.groups:
            self.title.setText("No near-duplicates left")
            self.keep_suggested_btn.setEnabled(False)
            self.prev_btn.setEnabled(False)
            self.next_btn.setEnabled(False)
            return
        self.index = max(0, min(index, len(self.groups) - 1))
        while self.row.count():
            w = self.row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        group = self.group
        self.title.setText(
            f"Near-duplicate group {self.index + 1} of {len(self.groups)} "
            f"({len(group.paths)} images)"
        )
        self.cards = []
        for rel in group.paths:
            card = ReviewCard(self.root, rel, self.images.get(rel), rel == group.keep)
            card.keep_btn.clicked.connect(lambda _c=False, r=rel: self.set_excluded([r], False))
            card.exclude_btn.clicked.connect(lambda _c=False, r=rel: self.set_excluded([r], True))
            card.set_excluded(self.is_excluded(rel))
            self.row.addWidget(card)
            self.cards.append(card)
        self.row.addStretch(1)
        self.prev_btn.setEnabled(self.index > 0)
        self.next_btn.setEnabled(self.index < len(self.groups) - 1)

    def set_excluded(self, rels: list[str], excluded: bool) -> None:
        self._set_excluded(rels, excluded)
        for card in self.cards:
            if card.rel in rels:
                card.set_excluded(excluded)
        self.excluded_changed.emit(rels, excluded)

    def keep_suggested(self) -> None:
        group = self.group
        if group is None:
            return
        others = [r for r in group.paths if r != group.keep]
        self.set_excluded([group.keep], False)
        self.set_excluded(others, True)
        if self.index < len(self.groups) - 1:
            self.show_group(self.index + 1)
