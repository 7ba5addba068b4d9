"""``LossChart``: the loss curve drawn with QPainter: raw points, a smoothed line (EMA),
a log-scale toggle, wheel zoom and drag pan along the steps, and the value under the mouse.

Painting costs O(width) whatever the number of points: points are binned per pixel column.
"""

from __future__ import annotations

import bisect
import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

SMOOTHING = 0.95  # EMA weight of the past, like TensorBoard's slider


def smooth(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Debiased EMA (as TensorBoard): the first points are not dragged toward the first one."""
    out, acc = [], 0.0
    for n, v in enumerate(values, 1):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight**n))
    return out


class LossChart(QWidget):
    MARGIN = (48, 12, 12, 24)  # left, top, right, bottom

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.steps: list[int] = []
        self.values: list[float] = []
        self.smoothed: list[float] = []
        self._acc = 0.0  # the EMA before debiasing
        self.log_scale = False
        self.view: tuple[float, float] | None = None  # visible step range; None = all
        self.hover: tuple[int, float] | None = None
        self._drag: float | None = None
        self.total_steps: int | None = None

    # -- data -------------------------------------------------------------------------------
    def set_points(self, points: list[tuple[int, float]], total: int | None = None) -> None:
        n = len(self.steps)
        appended = len(points) >= n and (
            n == 0 or points[n - 1] == (self.steps[-1], self.values[-1])
        )
        if not appended:
            self.steps, self.values = [s for s, _ in points], [v for _, v in points]
            self.smoothed = smooth(self.values)
            self._acc = 0.0
            for v in self.values:
                self._acc = SMOOTHING * self._acc + (1 - SMOOTHING) * v
        else:  # appended: extend the EMA incrementally
            for s, v in points[len(self.steps) :]:
                self._acc = SMOOTHING * self._acc + (1 - SMOOTHING) * v
                self.steps.append(s)
                self.values.append(v)
                self.smoothed.append(self._acc / (1 - SMOOTHING ** len(self.steps)))
        self.total_steps = total
        self.update()

    def set_log_scale(self, on: bool) -> None:
        self.log_scale = on
        self.update()

    def reset_view(self) -> None:
        self.view = None
        self.update()

    # -- geometry ---------------------------------------------------------------------------
    def _plot(self) -> QRectF:
        left, top, right, bottom = self.MARGIN
        return QRectF(
            left, top, max(1, self.width() - left - right), max(1, self.height() - top - bottom)
        )

    def _xrange(self) -> tuple[float, float]:
        if self.view is not None:
            return self.view
        hi = max(self.steps[-1] if self.steps else 1, self.total_steps or 0, 1)
        return (0.0, float(hi))

    def _y(self, v: float) -> float:
        return math.log10(max(v, 1e-12)) if self.log_scale else v

    def _yrange(self, lo_step: float, hi_step: float) -> tuple[float, float]:
        vis = [
            self._y(v)
            for s, v in zip(self.steps, self.values, strict=False)
            if lo_step <= s <= hi_step
        ]
        if not vis:
            return (0.0, 1.0)
        lo, hi = min(vis), max(vis)
        pad = (hi - lo) * 0.05 or 0.05
        return lo - pad, hi + pad

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1b1f24"))
        plot = self._plot()
        painter.setPen(QPen(QColor("#3a414b")))
        painter.drawRect(plot)
        x0, x1 = self._xrange()
        y0, y1 = self._yrange(x0, x1)
        painter.setPen(QColor("#aeb6c2"))
        painter.drawText(4, int(plot.top()) + 10, f"{self._label(y1)}")
        painter.drawText(4, int(plot.bottom()), f"{self._label(y0)}")
        painter.drawText(int(plot.left()), self.height() - 6, f"{int(x0)}")
        painter.drawText(int(plot.right()) - 40, self.height() - 6, f"{int(x1)}")
        if not self.steps:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "the loss appears here")
            return

        def pt(step: float, v: float) -> QPointF:
            fx = (step - x0) / max(x1 - x0, 1e-9)
            fy = (self._y(v) - y0) / max(y1 - y0, 1e-12)
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

        painter.setClipRect(plot)
        # only the visible points, thinned to about one per pixel column: painting costs
        # O(width) however long the run
        lo = bisect.bisect_left(self.steps, x0)
        hi = bisect.bisect_right(self.steps, x1)
        stride = max(1, (hi - lo) // max(1, int(plot.width())))
        idx = range(lo, hi, stride)
        painter.setPen(QPen(QColor(120, 170, 255, 170), 3))
        painter.drawPoints([pt(self.steps[i], self.values[i]) for i in idx])
        path = QPainterPath()
        first = True
        for i in idx:
            q = pt(self.steps[i], self.smoothed[i])
            if first:
                path.moveTo(q)
                first = False
            else:
                path.lineTo(q)
        painter.setPen(QPen(QColor("#ffb454"), 2))
        painter.drawPath(path)
        if self.hover is not None:
            s, v = self.hover
            q = pt(s, v)
            painter.setPen(QPen(QColor("#ffffff"), 1))
            painter.drawEllipse(q, 4, 4)
            painter.setClipping(False)
            painter.drawText(int(plot.left()) + 6, int(plot.top()) + 14, f"step {s}: loss {v:.4f}")

    def _label(self, y: float) -> str:
        return f"{10**y:.3g}" if self.log_scale else f"{y:.3g}"

    # -- interaction ------------------------------------------------------------------------
    def _step_at(self, x: float) -> float:
        plot = self._plot()
        x0, x1 = self._xrange()
        return x0 + (x - plot.left()) / plot.width() * (x1 - x0)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        x0, x1 = self._xrange()
        at = self._step_at(event.position().x())
        factor = 0.8 if event.angleDelta().y() > 0 else 1.25
        lo, hi = at - (at - x0) * factor, at + (x1 - at) * factor
        self.view = (max(0.0, lo), max(hi, max(0.0, lo) + 2))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = event.position().x()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.reset_view()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x = event.position().x()
        if self._drag is not None:
            x0, x1 = self._xrange()
            shift = self._step_at(self._drag) - self._step_at(x)
            self.view = (max(0.0, x0 + shift), max(0.0, x0 + shift) + (x1 - x0))
            self._drag = x
        self.hover = self.nearest(self._step_at(x))
        self.update()

    def nearest(self, step: float) -> tuple[int, float] | None:
        if not self.steps:
            return None
        i = min(bisect.bisect_left(self.steps, step), len(self.steps) - 1)
        if i > 0 and abs(self.steps[i - 1] - step) < abs(self.steps[i] - step):
            i -= 1
        return self.steps[i], self.values[i]
