"""Small QPainter charts for the balance dashboard (no plotting library).

``TierChart``: one row per shot tier, a bar of the count over a track, the accepted range
shaded and the target marked. ``PoseMixChart``: one stacked bar per tier with the pose mix.
Both take the report's ``tiers`` table.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

TIERS = ("close-up", "medium", "full-body")
TIER_LABEL = {"close-up": "Close-up", "medium": "Medium", "full-body": "Full body"}
STATUS_COLOUR = {"ok": "#3fae6a", "low": "#d9534f", "high": "#e0a84f"}
POSES = ("frontal", "three-quarter", "profile", "back", "unknown")
POSE_LABEL = {"frontal": "frontal", "three-quarter": "3/4", "profile": "profile",
              "back": "back", "unknown": "unknown"}  # fmt: skip
POSE_COLOUR = {"frontal": "#4f8cff", "three-quarter": "#5fb3c9", "profile": "#e0a84f",
               "back": "#c77dd6", "unknown": "#4a5160"}  # fmt: skip
TRACK = QColor("#2a2f37")
BAND = QColor("#35506e")
TEXT = QColor("#e6e8ec")
DIM = QColor("#9aa3af")
LABEL_W = 78
ROW_H = 30


class _Chart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiers: dict = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._font = QFont(self.font())
        self._small = QFont(self.font())
        self._small.setPointSizeF(max(7.0, self._small.pointSizeF() * 0.85))

    def set_tiers(self, tiers: dict | None) -> None:
        self.tiers = tiers or {}
        self.updateGeometry()
        self.update()

    LEGEND_H = 22  # height under the three rows, for the legend

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, ROW_H * 3 + self.LEGEND_H)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(220, ROW_H * 3 + self.LEGEND_H)

    def _begin(self) -> QPainter | None:
        """An antialiased painter on the widget, or None after painting "No analysis yet"."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.tiers:
            p.setPen(DIM)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No analysis yet")
            return None
        return p

    def _label(self, p: QPainter, y: float, tier: str) -> None:
        p.setFont(self._font)
        p.setPen(TEXT)
        p.drawText(
            QRectF(0, y, LABEL_W - 6, ROW_H), Qt.AlignmentFlag.AlignVCenter, TIER_LABEL[tier]
        )


class TierChart(_Chart):
    """Counts per tier against the profile's target and accepted range."""

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = self._begin()
        if p is None:
            return
        rows = [self.tiers.get(t, {}) for t in TIERS]
        scale_max = max([r.get("count", 0) for r in rows] + [r.get("max", 0) for r in rows] + [1])
        scale_max = max(scale_max, 1) * 1.1
        value_w = 64
        left, right = LABEL_W, self.width() - value_w
        width = max(10, right - left)
        fm = QFontMetrics(self._small)
        for i, (tier, row) in enumerate(zip(TIERS, rows, strict=True)):
            y = i * ROW_H
            self._label(p, y, tier)
            track = QRectF(left, y + 8, width, ROW_H - 16)
            _rounded(p, track, TRACK)
            lo, hi = row.get("min", 0), row.get("max", 0)
            band = QRectF(left + width * lo / scale_max, track.top(),
                          max(2.0, width * (hi - lo) / scale_max), track.height())  # fmt: skip
            _rounded(p, band, BAND)
            count = row.get("count", 0)
            if count:
                bar = QRectF(left, track.top() + 3, width * count / scale_max, track.height() - 6)
                _rounded(p, bar, QColor(STATUS_COLOUR.get(row.get("status", "ok"), "#3fae6a")))
            tx = left + width * row.get("target", 0) / scale_max
            p.setPen(QPen(QColor("#ffffff"), 2))
            p.drawLine(int(tx), int(track.top() - 3), int(tx), int(track.bottom() + 3))
            p.setFont(self._font)
            p.setPen(TEXT)
            text = f"{count} / {row.get('target', 0)}"
            p.drawText(
                QRectF(right + 8, y, value_w - 8, ROW_H), Qt.AlignmentFlag.AlignVCenter, text
            )
        # legend
        p.setFont(self._small)
        y = ROW_H * 3 + 4
        x = float(left)
        for colour, text in ((BAND, "accepted range"), (QColor("#ffffff"), "target"),
                             (QColor(STATUS_COLOUR["ok"]), "count")):  # fmt: skip
            p.fillRect(QRectF(x, y + 4, 10, 8), colour)
            p.setPen(DIM)
            p.drawText(QRectF(x + 14, y, 120, 16), Qt.AlignmentFlag.AlignVCenter, text)
            x += 14 + fm.horizontalAdvance(text) + 14
        p.end()


class PoseMixChart(_Chart):
    """The pose mix of each tier as a stacked bar, with a legend."""

    LEGEND_H = 24

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = self._begin()
        if p is None:
            return
        left, width = LABEL_W, max(10, self.width() - LABEL_W - 4)
        p.setFont(self._small)
        fm = QFontMetrics(self._small)
        for i, tier in enumerate(TIERS):
            y = i * ROW_H
            self._label(p, y, tier)
            poses = self.tiers.get(tier, {}).get("poses", {})
            total = sum(poses.values())
            track = QRectF(left, y + 6, width, ROW_H - 12)
            _rounded(p, track, TRACK)
            if not total:
                p.setPen(DIM)
                p.setFont(self._small)
                p.drawText(track.adjusted(8, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, "none")
                continue
            clip = QPainterPath()
            clip.addRoundedRect(track, 5, 5)
            p.save()
            p.setClipPath(clip)
            x = track.left()
            for pose in POSES:
                n = poses.get(pose, 0)
                if not n:
                    continue
                w = track.width() * n / total
                seg = QRectF(x, track.top(), w, track.height())
                p.fillRect(seg, QColor(POSE_COLOUR[pose]))
                if fm.horizontalAdvance(str(n)) + 6 < w:
                    p.setPen(QColor("#0f1114") if pose != "unknown" else TEXT)
                    p.drawText(seg, Qt.AlignmentFlag.AlignCenter, str(n))
                x += w
            p.restore()
        y = ROW_H * 3 + 4
        x = float(left)
        present = {p for t in TIERS for p, n in self.tiers.get(t, {}).get("poses", {}).items() if n}
        for pose in POSES:
            if pose not in present and pose not in ("frontal", "profile"):
                continue  # the legend names what is drawn (plus the two that matter most)
            label = POSE_LABEL[pose]
            p.fillRect(QRectF(x, y + 4, 10, 8), QColor(POSE_COLOUR[pose]))
            p.setPen(DIM)
            p.drawText(QRectF(x + 14, y, 80, 16), Qt.AlignmentFlag.AlignVCenter, label)
            x += 14 + fm.horizontalAdvance(label) + 12
        p.end()


def _rounded(p: QPainter, rect: QRectF, colour: QColor) -> None:
    path = QPainterPath()
    radius = min(5.0, rect.height() / 2)
    path.addRoundedRect(rect, radius, radius)
    p.fillPath(path, colour)
