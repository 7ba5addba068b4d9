"""``ThumbnailDelegate``: paints one grid tile (thumbnail, name, caption snippet, badges).

No widget per item: the view asks the delegate to paint only the tiles on screen.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.models.thumbnail_model import (
    BadgesRole,
    CaptionRole,
    ErrorRole,
    ExcludedRole,
    HasCaptionRole,
)
from desktop.widgets.icons import current_theme

PAD = 6
RADIUS = 8
COMPACT_BELOW = 140  # tiles narrower than this show one badge marker
TILE_BG = QColor("#262a31")
TILE_HOVER = QColor("#2e333c")
SELECT = QColor("#4f8cff")
TEXT = QColor("#e6e8ec")
DIM = QColor("#9aa3af")
WARN = QColor("#e0a84f")
ERROR_BG = QColor("#3a2326")
ERROR_FG = QColor("#ff8a8a")
PLACEHOLDER = QColor("#323844")
LIGHT = {  # the same roles on the light theme
    "TILE_BG": QColor("#ffffff"),
    "TILE_HOVER": QColor("#eef2f8"),
    "TEXT": QColor("#1d2128"),
    "DIM": QColor("#5f6773"),
    "WARN": QColor("#a8650c"),
    "ERROR_BG": QColor("#fde4e6"),
    "ERROR_FG": QColor("#b3202f"),
    "PLACEHOLDER": QColor("#e3e6eb"),
}


def _c(name: str) -> QColor:
    """Colour ``name`` for the theme in use (the module constant on the dark theme)."""
    return LIGHT[name] if current_theme() == "light" else globals()[name]


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = 192  # what the user asked for (the smallest tile)
        self.draw_size = 192  # what is painted: grown so the columns fill the width
        self.show_caption = True
        self._name_font = QFont()
        self._name_font.setPointSizeF(max(8.0, self._name_font.pointSizeF() * 0.95))
        self._small_font = QFont()
        self._small_font.setPointSizeF(max(7.0, self._small_font.pointSizeF() * 0.85))
        self._badge_font = QFont(self._small_font)
        self._badge_font.setBold(True)

    def text_height(self) -> int:
        name_h = QFontMetrics(self._name_font).height()
        small_h = QFontMetrics(self._small_font).lineSpacing()
        return name_h + (2 * small_h + 2 if self.show_caption else 0) + PAD

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        s = self.draw_size
        return QSize(s + 2 * PAD, s + 2 * PAD + self.text_height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        error = index.data(ErrorRole)
        excluded = bool(index.data(ExcludedRole))

        path = QPainterPath()
        path.addRoundedRect(QRectF(rect), RADIUS, RADIUS)
        painter.fillPath(
            path, _c("ERROR_BG") if error else _c("TILE_HOVER" if hover else "TILE_BG")
        )
        if selected:
            painter.setPen(QPen(SELECT, 2.5))
            painter.drawPath(path)

        s = self.draw_size
        thumb = QRect(rect.left() + (rect.width() - s) // 2, rect.top() + PAD, s, s)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if error:
            self._paint_error(painter, thumb, str(error))
        elif isinstance(pixmap, QPixmap) and not pixmap.isNull():
            target = _fit(pixmap.size(), thumb)
            if excluded:
                painter.setOpacity(0.35)
            painter.drawPixmap(target, pixmap)
            painter.setOpacity(1.0)
        else:
            self._paint_placeholder(painter, thumb)

        self._paint_badges(painter, thumb, index.data(BadgesRole) or [], excluded)
        self._paint_text(painter, rect, thumb, index)
        painter.restore()

    # -- parts ------------------------------------------------------------------------------
    def _paint_placeholder(self, painter: QPainter, thumb: QRect) -> None:
        box = QPainterPath()
        box.addRoundedRect(QRectF(thumb.adjusted(4, 4, -4, -4)), 6, 6)
        painter.fillPath(box, _c("PLACEHOLDER"))
        painter.setPen(QPen(QColor("#4a5160"), 2))
        c = thumb.center()
        r = max(8, thumb.width() // 10)
        painter.drawRoundedRect(QRect(c.x() - r, c.y() - r * 3 // 4, 2 * r, 3 * r // 2), 3, 3)
        painter.drawEllipse(c, r // 3, r // 3)

    def _paint_error(self, painter: QPainter, thumb: QRect, error: str) -> None:
        painter.setPen(QPen(_c("ERROR_FG"), 2))
        c = thumb.center()
        r = max(10, thumb.width() // 8)
        top = c.y() - thumb.height() // 5
        tri = QPainterPath()
        tri.moveTo(c.x(), top - r)
        tri.lineTo(c.x() + r, top + r * 3 // 4)
        tri.lineTo(c.x() - r, top + r * 3 // 4)
        tri.closeSubpath()
        painter.drawPath(tri)
        painter.drawLine(c.x(), top - r // 3, c.x(), top + r // 4)
        painter.drawPoint(c.x(), top + r // 2)
        painter.setFont(self._small_font)
        text_rect = QRect(
            thumb.left() + 6, top + r + 6, thumb.width() - 12, thumb.bottom() - top - r
        )
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, error)

    def _paint_badges(self, painter: QPainter, thumb: QRect, badges: list, excluded: bool) -> None:
        items = list(badges)
        if excluded:
            items.insert(0, ("excluded", "#6b7280"))
        if not items:
            return
        painter.setFont(self._badge_font)
        fm = QFontMetrics(self._badge_font)
        x, y = thumb.left() + 4, thumb.top() + 4
        h = fm.height() + 2
        items = compact_badges(items, thumb.width(), fm.horizontalAdvance)
        for text, colour in items:
            w = fm.horizontalAdvance(text) + 10
            if x + w > thumb.right() - 2:
                x, y = thumb.left() + 4, y + h + 3
                if y + h > thumb.bottom():
                    break
            pill = QPainterPath()
            pill.addRoundedRect(QRectF(x, y, w, h), h / 2, h / 2)
            painter.fillPath(pill, QColor(colour))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(QRect(x, y, w, h), Qt.AlignmentFlag.AlignCenter, text)
            x += w + 4

    def _paint_text(self, painter: QPainter, rect: QRect, thumb: QRect, index: QModelIndex) -> None:
        left, width = rect.left() + PAD + 2, rect.width() - 2 * PAD - 4
        y = thumb.bottom() + PAD
        painter.setFont(self._name_font)
        fm = QFontMetrics(self._name_font)
        name = fm.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)), Qt.TextElideMode.ElideMiddle, width
        )
        painter.setPen(_c("TEXT"))
        painter.drawText(QRect(left, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft, name)
        if not self.show_caption:
            return
        y += fm.height() + 2
        painter.setFont(self._small_font)
        sm = QFontMetrics(self._small_font)
        caption = str(index.data(CaptionRole) or "").strip()
        box = QRect(left, y, width, 2 * sm.lineSpacing())
        if not index.data(HasCaptionRole):
            painter.setPen(_c("WARN"))
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft, "no caption")
            return
        painter.setPen(_c("DIM"))
        painter.drawText(
            box,
            Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
            _two_lines(caption, sm, width),
        )


def compact_badges(items: list, width: int, advance) -> list:
    """The badges as drawn on a tile ``width`` px wide: all of them when they fit on one row
    of a tile at least COMPACT_BELOW wide; otherwise one marker ("3 flags", in the colour of the
    first problem) so small tiles keep their image visible. The tooltip lists them all."""
    if not items or (len(items) == 1 and width >= COMPACT_BELOW):
        return items
    total = sum(advance(text) + 14 for text, _c in items)
    if width >= COMPACT_BELOW and total <= width - 8:
        return items
    if len(items) == 1:
        text, colour = items[0]
        return [("!", colour)] if advance(text) + 14 > width // 2 else items
    colour = next((c for t, c in items if t != "excluded"), items[0][1])
    return [(f"{len(items)} flags" if width >= 120 else f"{len(items)}", colour)]


def _fit(size: QSize, box: QRect) -> QRect:
    if size.width() <= 0 or size.height() <= 0:
        return box
    scale = min(box.width() / size.width(), box.height() / size.height())
    w, h = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
    return QRect(box.left() + (box.width() - w) // 2, box.top() + (box.height() - h) // 2, w, h)


def _two_lines(text: str, fm: QFontMetrics, width: int) -> str:
    """Cut ``text`` so it fits two wrapped lines, ending in an ellipsis when cut."""
    cut = len(text)
    while cut > 0 and fm.horizontalAdvance(text[:cut]) > width:
        cut = text.rfind(" ", 0, cut) if " " in text[:cut] else cut - 1
    first = text[: max(cut, 1)]
    rest = text[len(first) :].strip()
    second = fm.elidedText(rest, Qt.TextElideMode.ElideRight, width)
    return first + ("\n" + second if rest else "")
