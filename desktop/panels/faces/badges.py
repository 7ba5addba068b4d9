"""Tile badges from face analysis: tier, pose, face count and warnings.

Badges go into the grid's ``ThumbnailModel`` under the source ``"faces"`` (other panels use
their own source, so they never overwrite each other). Text is short so two or three fit on
a small tile; the colours follow the dark theme: tiers in cool colours, warnings in amber,
problems that usually mean "replace the image" in red.
"""

from __future__ import annotations

from typing import Any

from curation.analysis.flag_info import FLAG_INFO
from desktop.models.thumbnail_model import Badge

SOURCE = "faces"

TIER_BADGE = {
    "close-up": ("close-up", "#2f6fb0"),
    "medium": ("medium", "#2f8a7a"),
    "full-body": ("full body", "#7a4fb0"),
}
POSE_BADGE = {
    "frontal": ("frontal", "#4b5563"),
    "three-quarter": ("3/4", "#4b5563"),
    "profile": ("profile", "#8a5a2f"),
    "back": ("back", "#8a5a2f"),
}
AMBER, RED, GREY = "#b7791f", "#c0392b", "#6b7280"
LEVEL_COLOUR = {"problem": RED, "warning": AMBER, "note": GREY}
# badge text and colour of every flag, from the core's one table of flag meanings
FLAG_BADGE = {
    flag: (info.badge, LEVEL_COLOUR[info.level]) if info.badge else None
    for flag, info in FLAG_INFO.items()
}
# Human words for every flag, for filters and tooltips.
FLAG_LABELS = {flag: info.label for flag, info in FLAG_INFO.items()}


def badges_for(img: Any) -> list[Badge]:
    """The badges of one ``ImageAnalysis`` (tier and pose first, then warnings)."""
    if img.error is not None:
        return [Badge("unreadable", RED)]
    out: list[Badge] = []
    overridden = set(img.overrides or {})
    if img.tier in TIER_BADGE:
        text, colour = TIER_BADGE[img.tier]
        out.append(Badge(text + ("*" if "tier" in overridden else ""), colour))
    if img.pose in POSE_BADGE:
        text, colour = POSE_BADGE[img.pose]
        manual = "pose" in overridden or (img.pose == "back" and "back_view" in overridden)
        out.append(Badge(text + ("*" if manual else ""), colour))
    faces = len(img.faces)
    if faces == 0 and img.pose != "back":
        out.append(Badge("back view?" if img.back_view_candidate else "no face", AMBER))
    elif faces > 1:
        out.append(Badge(f"{faces} faces", AMBER))
    reviewed = (img.overrides or {}).get("identity") == "ok"
    for flag in img.flags:
        spec = FLAG_BADGE.get(flag)
        if spec is None or (reviewed and flag.startswith("identity")):
            continue
        if flag == "duplicate" and img.keep_suggested:
            out.append(Badge("dup: keep", "#2f8a4f"))
            continue
        out.append(Badge(*spec))
    return out


def tooltip_for(img: Any) -> str:
    """A few lines about one image for tooltips and the detail view."""
    if img.error is not None:
        return f"Cannot analyse: {img.error}"
    parts = []
    if img.tier:
        src = " (set by you)" if img.tier_source == "override" else ""
        ratio = f", face {img.face_height_ratio:.2f} of the height" if img.face_height_ratio else ""
        parts.append(f"{img.tier}{src}{ratio}")
    if img.pose:
        parts.append(
            f"pose {img.pose}" + (" (set by you)" if img.pose_source == "override" else "")
        )
    parts.append(f"{len(img.faces)} face{'s' if len(img.faces) != 1 else ''}")
    if img.sharpness is not None:
        parts.append(f"sharpness {img.sharpness:.0f}")
    if img.identity_score is not None:
        parts.append(f"identity {img.identity_score:.2f}")
    flags = [FLAG_LABELS.get(f, f) for f in img.flags]
    text = " · ".join(parts)
    return text + ("\n" + ", ".join(flags) if flags else "")


def apply_badges(model, images: dict[str, Any]) -> None:
    """Replace every face badge in ``model`` with those of ``images`` (rel -> analysis)."""
    model.set_badges(SOURCE, {rel: badges_for(img) for rel, img in images.items()})


def apply_one(model, rel: str, img: Any) -> None:
    model.set_row_badges(rel, SOURCE, badges_for(img))
