"""Per-image loss: which training images the model finds hardest, timestep for timestep.

The trainer reports each step's samples as ``Step.items``: ``{"image": rel, "loss": float,
"t": float}`` with ``t`` the sample's noise level (0 clean .. 1 pure noise). The loss depends
strongly on ``t``, so an image is judged against what is usual at its noise level: ``t`` falls
in one of ``bins`` equal bins, each bin keeps an exponential running mean of the loss, and each
sample counts as ``loss / running mean of its bin`` (taken before the sample joins the mean).
An image's score is the mean of its ratios: 1.0 is ordinary, 2.3 is "2.3x". A hard outlier is
often a wrong, blurry or mis-captioned image.

A resumed run trains again from its last saved state, so the steps after it arrive twice
(before the stop and after the resume). ``add_step`` keeps each step's samples; a step at or
below the last one seen drops the steps from there on and rebuilds the means, so every step
counts once, as in a run that never stopped.

Qt-free; ``RunHistory`` feeds it live events and rebuilds it from ``events.jsonl``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageScore:
    image: str
    relative: float  # mean of loss / running mean at similar timesteps
    count: int  # samples seen


@dataclass
class ImageLoss:
    bins: int = 10
    decay: float = 0.95  # running-mean decay per sample in a bin
    _mean: list[float | None] = field(default_factory=list)
    _sum: dict[str, float] = field(default_factory=dict)
    _count: dict[str, int] = field(default_factory=dict)
    version: int = 0  # bumped on every change (views redraw only when it moved)
    # (step, its valid samples) in arrival order: what a resume's replay rewinds
    _steps: list[tuple[int, list[tuple[str, float, float]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self._mean:
            self._mean = [None] * self.bins

    def _bin(self, t: float) -> int:
        return min(self.bins - 1, max(0, int(t * self.bins)))

    def add(self, image: str, loss: float, t: float) -> None:
        if not (math.isfinite(loss) and math.isfinite(t)) or loss < 0:
            return
        self._add(image, loss, t)

    def _add(self, image: str, loss: float, t: float) -> None:
        b = self._bin(t)
        mean = self._mean[b]
        if mean is None:
            mean = loss
        ratio = loss / mean if mean > 0 else 1.0
        self._mean[b] = self.decay * mean + (1 - self.decay) * loss
        self._sum[image] = self._sum.get(image, 0.0) + ratio
        self._count[image] = self._count.get(image, 0) + 1
        self.version += 1

    def add_items(self, items: Iterable[Mapping[str, Any]]) -> None:
        """A step event's ``items``; malformed entries are skipped."""
        for image, loss, t in _valid(items):
            self._add(image, loss, t)

    def add_step(self, step: int, items: Iterable[Mapping[str, Any]]) -> None:
        """The ``items`` of step ``step``. A step at or below the last one seen (a resumed
        run replaying from its state) first drops what was counted from that step on."""
        if self._steps and step <= self._steps[-1][0]:
            self._rewind(step)
        samples = _valid(items)
        self._steps.append((step, samples))
        for image, loss, t in samples:
            self._add(image, loss, t)

    def _rewind(self, step: int) -> None:
        kept = [(s, samples) for s, samples in self._steps if s < step]
        self._mean = [None] * self.bins
        self._sum.clear()
        self._count.clear()
        self._steps = kept
        for _s, samples in kept:
            for image, loss, t in samples:
                self._add(image, loss, t)
        self.version += 1

    def score(self, image: str) -> ImageScore | None:
        n = self._count.get(image, 0)
        return ImageScore(image, self._sum[image] / n, n) if n else None

    def __len__(self) -> int:
        return len(self._count)

    def hardest(self, n: int = 10) -> list[ImageScore]:
        """The ``n`` images with the highest relative loss, hardest first."""
        scores = [ImageScore(k, self._sum[k] / c, c) for k, c in self._count.items()]
        scores.sort(key=lambda s: (-s.relative, s.image))
        return scores[:n]


def _valid(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, float, float]]:
    """(image, loss, t) of each well-formed item with a finite loss >= 0 and a finite t."""
    out = []
    for it in items:
        try:
            image, loss, t = str(it["image"]), float(it["loss"]), float(it["t"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(loss) and math.isfinite(t) and loss >= 0:
            out.append((image, loss, t))
    return out
