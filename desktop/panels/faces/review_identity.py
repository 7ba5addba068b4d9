"""``IdentityReview``: faces that may be another person, next to the character's faces.

For each flagged image (``identity-outlier`` first, then ``identity-review``) the face crop
is shown large with its score (cosine similarity to the mean of the other faces), beside the
reference faces that score highest. "Same person" stores the ``identity: ok`` override (the
warning is then treated as checked); "Exclude" leaves the image out of training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.faces.previews import ImageTile
from desktop.panels.faces.review_duplicates import CARD_STYLE

N_REFERENCES = 4


def flagged(images: dict[str, Any]) -> list[Any]:
    """Images to review, worst first, without those already checked or excluded."""
    out = [
        img
        for img in images.values()
        if not img.excluded
        and img.overrides.get("identity") != "ok"
        and ({"identity-outlier", "identity-review"} & set(img.flags))
    ]
    return sorted(out, key=lambda i: i.identity_score if i.identity_score is not None else 9)


def references(images: dict[str, Any], n: int = N_REFERENCES) -> list[Any]:
    """The faces that best represent the character (highest identity scores, unflagged)."""
    good = [
        img
        for img in images.values()
        if img.identity_score is not None
        and not img.excluded
        and img.primary is not None
        and not ({"identity-outlier", "identity-review"} & set(img.flags))
    ]
    return sorted(good, key=lambda i: -i.identity_score)[:n]


def _verdict(img: Any) -> str:
    if "identity-outlier" in img.flags:
        return "Probably a different person: one wrong face poisons a character LoRA."
    return "Possibly a different person (profile views and heavy make-up also score lower)."


class IdentityReview(QDialog):
    def __init__(
        self,
        root: Path,
        images: dict[str, Any],
        set_override: Callable[[list[str], str, object], None],
        set_excluded: Callable[[list[str], bool], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review identity")
        self.setObjectName("identityReview")
        self.setStyleSheet(CARD_STYLE)
        self.resize(900, 560)
        self.root = Path(root)
        self.items = flagged(images)
        self.refs = references(images)
        self._set_override = set_override
        self._set_excluded = set_excluded
        self.index = 0
        self.decisions: dict[str, str] = {}
        self.title = QLabel("")
        self.title.setObjectName("reviewTitle")
        self.face = ImageTile(260)
        self.name = QLabel("")
        self.name.setObjectName("cardName")
        self.score = QLabel("")
        self.score.setStyleSheet("font-size: 20pt; font-weight: 700;")
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setObjectName("cardInfo")
        self.state = QLabel("")
        self.state.setObjectName("cardState")
        left = QVBoxLayout()
        left.addWidget(self.face, 0, Qt.AlignmentFlag.AlignHCenter)
        left.addWidget(self.name)
        left.addWidget(self.score)
        left.addWidget(self.verdict)
        left.addWidget(self.state)
        left.addStretch(1)
        ref_box = QGridLayout()
        ref_box.setSpacing(10)
        ref_title = QLabel("Reference faces (the character)")
        ref_title.setObjectName("cardName")
        self.ref_tiles = []
        for i, img in enumerate(self.refs):
            tile = ImageTile(150)
            tile.show_path(self.root / img.rel, img.primary.box)
            label = QLabel(f"{img.rel.rsplit('/', 1)[-1]}  ·  {img.identity_score:.2f}")
            label.setObjectName("cardInfo")
            cell = QVBoxLayout()
            cell.addWidget(tile)
            cell.addWidget(label)
            ref_box.addLayout(cell, i // 2, i % 2)
            self.ref_tiles.append(tile)
        if not self.refs:
            ref_box.addWidget(QLabel("No reference faces (too few faces with embeddings)"), 0, 0)
        right = QVBoxLayout()
        right.addWidget(ref_title)
        right.addLayout(ref_box)
        right.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addSpacing(16)
        body.addLayout(right, 1)
        self.prev_btn = QPushButton("◀ Previous")
        self.next_btn = QPushButton("Next ▶")
        self.keep_btn = QPushButton("Same person: keep")
        self.exclude_btn = QPushButton("Different person: exclude")
        self.exclude_btn.setObjectName("primaryButton")
        close = QPushButton("Close")
        footer = QHBoxLayout()
        footer.addWidget(self.prev_btn)
        footer.addWidget(self.next_btn)
        footer.addStretch(1)
        footer.addWidget(self.keep_btn)
        footer.addWidget(self.exclude_btn)
        footer.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addLayout(body, 1)
        lay.addLayout(footer)
        self.prev_btn.clicked.connect(lambda: self.show_item(self.index - 1))
        self.next_btn.clicked.connect(lambda: self.show_item(self.index + 1))
        self.keep_btn.clicked.connect(self.keep)
        self.exclude_btn.clicked.connect(self.exclude)
        close.clicked.connect(self.accept)
        self.show_item(0)

    @property
    def current(self) -> Any:
        return self.items[self.index] if self.items else None

    def show_item(self, index: int) -> None:
        if not self.items:
            self.title.setText("No identity warnings to review")
            for b in (self.prev_btn, self.next_btn, self.keep_btn, self.exclude_btn):
                b.setEnabled(False)
            return
        self.index = max(0, min(index, len(self.items) - 1))
        img = self.current
        self.title.setText(f"Identity check {self.index + 1} of {len(self.items)}")
        box = img.primary.box if img.primary is not None else None
        self.face.show_path(self.root / img.rel, box)
        self.name.setText(img.rel)
        score = img.identity_score
        colour = "#ff7b7b" if "identity-outlier" in img.flags else "#f0b35a"
        self.score.setText(f"similarity {score:.2f}" if score is not None else "no score")
        self.score.setStyleSheet(f"font-size: 20pt; font-weight: 700; color: {colour};")
        self.verdict.setText(_verdict(img))
        decided = self.decisions.get(img.rel, "")
        self.state.setText({"keep": "Marked: same person", "exclude": "Excluded"}.get(decided, ""))
        self.prev_btn.setEnabled(self.index > 0)
        self.next_btn.setEnabled(self.index < len(self.items) - 1)

    def keep(self) -> None:
        img = self.current
        if img is not None:
            self._set_override([img.rel], "identity", "ok")
            self.decisions[img.rel] = "keep"
            self._advance()

    def exclude(self) -> None:
        img = self.current
        if img is not None:
            self._set_excluded([img.rel], True)
            self.decisions[img.rel] = "exclude"
            self._advance()

    def _advance(self) -> None:
        if self.index < len(self.items) - 1:
            self.show_item(self.index + 1)
        else:
            self.show_item(self.index)
