"""What an export will send out, and how: the pre-export summary, the tier check of a face
crop, trainer-ready layouts and the zip.

- ``summarize`` counts what a user must know before exporting: the balance verdict, caption
  lint errors, excluded, unreadable and flagged images (flags whose level is ``problem``: a
  blurry face, probably another person, an unusable strip; and no face where no person was
  seen either: the cat).
- ``tier_after_crop`` / ``tier_changes``: a fixed face-ratio square turns every image into
  the same framing; these say which shot tier each image would end up in, so the dialog can
  warn with counts, and ``keep_tier_box`` gives the crop that keeps each image's tier.
- ``output_rel``: where a file goes in each layout: ``mirror`` (the dataset's own folders),
  ``kohya`` (``<repeats>_<trigger>/`` with flattened names, what kohya's sd-scripts read) and
  ``flat`` (one folder of images and ``.txt`` captions, ai-toolkit's dataset folder).
- ``zip_folder``: the export as one zip beside it, written atomically.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.analysis.flag_info import FLAG_INFO
from curation.analysis.measures import classify_tier
from curation.errors import LikenessError

LAYOUTS = ("mirror", "kohya", "flat")
FACE_MODES = ("square", "keep-tier")
Box = tuple[float, float, float, float]


class ExportPlanError(LikenessError):
    """A layout or zip cannot be made as asked (bad trigger, name clash)."""


@dataclass
class ExportSummary:
    """What will go out, in counts a user can read before pressing Export."""

    total: int = 0
    verdict: str | None = None  # "ready", "ready-with-warnings", "not-ready", None: no analysis
    lint_errors: int = 0
    lint_error_images: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    flagged: dict[str, list[str]] = field(default_factory=dict)  # rel -> problem flags

    @property
    def exported(self) -> int:
        """Images that go out when flagged ones are kept."""
        return self.total - len(self.excluded) - len(self.unreadable)

    @property
    def blocking(self) -> bool:
        """True when the user must be told before exporting (not ready, errors, flags)."""
        return self.verdict == "not-ready" or bool(self.lint_errors) or bool(self.flagged)

    def lines(self) -> list[str]:
        """The summary in plain words, worst first."""
        out = []
        if self.verdict == "not-ready":
            out.append("The balance check says NOT READY (see the Balance panel's advice).")
        elif self.verdict is None:
            out.append("Faces were not analysed: the balance of shots is unknown.")
        if self.lint_errors:
            out.append(
                f"{self.lint_errors} caption error{_s(self.lint_errors)} in "
                f"{len(self.lint_error_images)} image{_s(len(self.lint_error_images))} "
                "(the Lint panel lists them)."
            )
        if self.flagged:
            kinds = Counter(f for flags in self.flagged.values() for f in flags)
            what = ", ".join(f"{n} {FLAG_INFO[f].label.lower()}" for f, n in kinds.most_common())
            out.append(f"{len(self.flagged)} flagged image{_s(len(self.flagged))}: {what}.")
        if self.excluded:
            out.append(f"{len(self.excluded)} excluded image{_s(len(self.excluded))} left out.")
        if self.unreadable:
            out.append(f"{len(self.unreadable)} unreadable image{_s(self.unreadable)} left out.")
        return out


def _s(n: int | list) -> str:
    return "" if (len(n) if isinstance(n, list) else n) == 1 else "s"


def summarize(
    rels: Iterable[str],
    excluded: Iterable[str],
    images: Mapping[str, Any],
    verdict: str | None,
    lint_errors: Mapping[str, int] | None = None,
    unreadable: Iterable[str] = (),
) -> ExportSummary:
    """``images``: rel -> ``ImageAnalysis`` (``flags``, ``error``); ``lint_errors``: rel ->
    error count; ``unreadable``: rels known not to decode (beside those with an analysis
    error). Excluded images are neither flagged nor counted as lint errors."""
    rels = list(rels)
    out = ExportSummary(total=len(rels), verdict=verdict)
    skip, bad = set(excluded), set(unreadable)
    out.excluded = [r for r in rels if r in skip]
    for rel in rels:
        if rel in skip:
            continue
        img = images.get(rel)
        if rel in bad or (img is not None and getattr(img, "error", None) is not None):
            out.unreadable.append(rel)
            continue
        flags = [f for f in (getattr(img, "flags", None) or []) if _leave_out_worthy(f, img)]
        if flags:
            out.flagged[rel] = flags
        n = (lint_errors or {}).get(rel, 0)
        if n:
            out.lint_errors += n
            out.lint_error_images.append(rel)
    return out


def _leave_out_worthy(flag: str, img: Any) -> bool:
    """A flag that usually means "not a training image": a problem-level flag, or no face
    where no person was seen either (a cat, a landscape; a back view keeps its person box)."""
    if flag == "no-face":
        return not getattr(img, "back_view_candidate", False)
    info = FLAG_INFO.get(flag)
    return info is not None and info.level == "problem" and flag != "unreadable"


# -- face crop and tiers --------------------------------------------------------------------
def face_crop_box(
    width: int, height: int, face: tuple[float, float, float, float] | None, ratio: float
) -> tuple[tuple[int, int, int, int], float | None, list[str]]:
    """((left, top, right, bottom), resulting face ratio, notes) of the square to cut."""
    notes: list[str] = []
    short = min(width, height)
    if face is None:
        side = short
        cx, cy = width / 2, height / 2
        notes.append("no face found: centred square")
    else:
        fx, fy, fw, fh = face
        side = round(fh / ratio)
        cx, cy = fx + fw / 2, fy + fh / 2
        if side > short:
            notes.append(f"image too small for face ratio {ratio}: square shrunk to {short} px")
            side = short
        side = max(side, 1)
    left = int(round(min(max(cx - side / 2, 0), width - side)))
    top = int(round(min(max(cy - side / 2, 0), height - side)))
    if face is not None and (abs(left - (cx - side / 2)) > 1 or abs(top - (cy - side / 2)) > 1):
        notes.append("face near an edge: square moved inside the image")
    actual = face[3] / side if face is not None else None
    return (left, top, left + side, top + side), actual, notes


def tier_of(face_h: float, frame_h: float, close_up_min: float, medium_min: float) -> str:
    return classify_tier(face_h / frame_h, close_up_min, medium_min)[0]


def tier_after_crop(
    width: int, height: int, face: Box | None, ratio: float, thresholds: tuple[float, float]
) -> tuple[str | None, str | None]:
    """(tier now, tier after a ``ratio`` face square) of one image; (None, None) without a
    face (its tier is not measured)."""
    if face is None or height <= 0:
        return None, None
    (left, top, right, bottom), _actual, _notes = face_crop_box(width, height, face, ratio)
    before = tier_of(face[3], height, *thresholds)
    after = tier_of(face[3], bottom - top, *thresholds)
    return before, after


def tier_changes(
    sizes: Mapping[str, tuple[int, int]],
    faces: Mapping[str, Box | None],
    ratio: float,
    thresholds: tuple[float, float],
) -> Counter[tuple[str, str]]:
    """How many images a fixed-ratio square moves from one tier to another."""
    moved: Counter[tuple[str, str]] = Counter()
    for rel, (w, h) in sizes.items():
        before, after = tier_after_crop(w, h, faces.get(rel), ratio, thresholds)
        if before is not None and after is not None and before != after:
            moved[(before, after)] += 1
    return moved


def keep_tier_box(
    width: int, height: int, face: Box | None, thresholds: tuple[float, float]
) -> tuple[tuple[int, int, int, int], list[str]]:
    """The crop that keeps the image's shot tier: the largest square around the face when
    it stays in the same tier (a face-height ratio in the same band), else the whole image
    (trainers bucket by aspect ratio: a tall full-body shot is fine as it is)."""
    whole = (0, 0, width, height)
    if face is None:
        return whole, ["no face found: kept whole (its tier is unknown)"]
    short = min(width, height)
    fx, fy, fw, fh = face
    cx, cy = fx + fw / 2, fy + fh / 2
    left = int(round(min(max(cx - short / 2, 0), width - short)))
    top = int(round(min(max(cy - short / 2, 0), height - short)))
    before = tier_of(fh, height, *thresholds)
    after = tier_of(fh, short, *thresholds)
    if after == before:
        return (left, top, left + short, top + short), []
    return whole, [f"kept whole: a square would make this {before} shot a {after}"]


# -- layouts and zip ------------------------------------------------------------------------
_TRIGGER_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def check_layout(layout: str, trigger: str, repeats: int) -> None:
    if layout not in LAYOUTS:
        raise ExportPlanError(f"unknown layout {layout!r}: use {', '.join(LAYOUTS)}")
    if layout == "kohya":
        if not _TRIGGER_OK.match(trigger or ""):
            raise ExportPlanError(
                "the kohya layout needs the trigger word for its folder name "
                "(letters, digits, space, _ . -); set it in Dataset settings"
            )
        if not 1 <= int(repeats) <= 1000:
            raise ExportPlanError("repeats must be between 1 and 1000")


def output_rel(rel: str, layout: str, trigger: str = "", repeats: int = 1) -> str:
    """Where image ``rel`` goes in ``layout`` (a path relative to the export folder)."""
    if layout == "mirror":
        return rel
    flat = rel.replace("/", "__")  # sub/img.jpg -> sub__img.jpg: one folder, no clash
    if layout == "flat":
        return flat
    return f"{int(repeats)}_{trigger}/{flat}"


def zip_folder(folder: str | os.PathLike[str]) -> Path:
    """``<folder>.zip`` beside ``folder`` with every file in it, written to a temp name and
    renamed (a half-written zip never has the final name)."""
    src = Path(folder)
    target = src.with_name(src.name + ".zip")
    if target.exists():
        raise ExportPlanError(f"{target} already exists: move it away first")
    tmp = target.with_name(f".{target.name}.part")
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink())
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(src).as_posix())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target
