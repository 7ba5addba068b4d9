"""Plain-words advice from an analysis, most important first.

Every item carries the images it is about (``paths``), so the GUI can filter the grid to
them when the user clicks the advice line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curation.analysis.measures import TIERS
from curation.analysis.runner import DatasetAnalysis

__all__ = ["Advice", "build_advice"]

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
TIER_NOUN = {"close-up": ("close-up", "close-ups"), "medium": ("medium shot", "medium shots"),
             "full-body": ("full-body shot", "full-body shots")}  # fmt: skip
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass
class Advice:
    id: str
    severity: str  # "error" | "warning" | "info"
    message: str
    paths: list[str] = field(default_factory=list)
    priority: int = 50

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "priority": self.priority,
            "message": self.message,
            "paths": list(self.paths),
        }


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _word(count: int) -> str:
    return WORDS.get(count, str(count))


def _name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def _variety_needs(analysis: DatasetAnalysis, tier: str, info: dict, size: int) -> tuple[int, int]:
    """(profiles, back views) still needed in ``tier`` for a block of ``size`` images."""
    variety = analysis.profile.variety
    poses = info["poses"]
    want_profile = round(size * variety.profile_per_block / variety.block_size) if size >= 3 else 0
    per_back = variety.back_view_per_block.get(tier, 0)  # type: ignore[call-overload]
    want_back = max(1, round(size / variety.block_size)) * per_back if size >= 5 else 0
    return max(0, want_profile - poses["profile"]), max(0, want_back - poses["back"])


def _variety_clause(profiles: int, backs: int) -> str:
    parts = []
    if profiles:
        parts.append(f"{_word(profiles)} in profile")
    if backs:
        parts.append(f"{_word(backs)} from behind")
    return " and ".join(parts)


def _tier_advice(analysis: DatasetAnalysis, tiers: dict) -> list[Advice]:
    out: list[Advice] = []
    for tier in TIERS:
        info = tiers[tier]
        one, many = TIER_NOUN[tier]
        count, target, lo, hi = info["count"], info["target"], info["min"], info["max"]
        if count < lo:
            missing = target - count if target > count else lo - count
            prof, back = _variety_needs(analysis, tier, info, max(count + missing, target))
            clause = _variety_clause(min(prof, missing), min(back, missing))
            message = f"Add {_n(missing, one, many)}" + (f", {clause}" if clause else "")
            severe = target >= 2 and count < target / 2
            out.append(Advice(f"tier-low:{tier}", "error" if severe else "warning", message,
                              info["paths"], 20))  # fmt: skip
            continue
        if count > hi:
            extra = count - target
            wanted = f"about {target}" if analysis.profile.scale_targets else (
                f"at most {hi}" if lo == 0 else f"{lo}-{hi}")  # fmt: skip
            out.append(
                Advice(
                    f"tier-high:{tier}",
                    "warning",
                    f"{_n(count, one, many)} where the profile asks for {wanted}: drop or "
                    f"replace {extra} (blurry ones and duplicates first)",
                    info["paths"],
                    30,
                )
            )
        prof, back = _variety_needs(analysis, tier, info, count)
        clause = _variety_clause(prof, back)
        if clause:
            out.append(
                Advice(
                    f"variety:{tier}",
                    "warning",
                    f"Among the {many}, swap in {clause} in place of frontal ones",
                    info["paths"],
                    35,
                )
            )
        share = info["frontal_share"]
        if share is not None and share < analysis.profile.variety.min_frontal_share:
            out.append(
                Advice(
                    f"frontal:{tier}",
                    "warning",
                    f"Only {round(share * 100)}% of the {many} show the face frontal or "
                    "three-quarter: add some",
                    info["paths"],
                    36,
                )
            )
    return out


def build_advice(analysis: DatasetAnalysis, tiers: dict) -> list[Advice]:
    profile = analysis.profile
    th = profile.thresholds
    images = analysis.images
    active = analysis.active
    n = len(active)
    out: list[Advice] = []

    def flagged(flag: str) -> list[str]:
        return [img.rel for img in active if flag in img.flags]

    size = profile.dataset_size
    if n < size.min:
        severity = "error" if n < size.error_below else "warning"
        out.append(Advice("size-small", severity, f"Only {_n(n, 'usable image', 'usable images')}:"
                          f" a {profile.name} LoRA needs at least {size.min} "
                          f"({size.recommended_min}-{size.recommended_max} is best)", [], 10))  # fmt: skip
    elif n > size.recommended_max:
        out.append(Advice("size-large", "info", f"{n} images is more than the usual "
                          f"{size.recommended_max}: fine, but lower the repeats", [], 90))  # fmt: skip

    unreadable = [img.rel for img in images if not img.ok and not img.excluded]
    if unreadable:
        out.append(Advice("unreadable", "warning", f"{_n(len(unreadable), 'file', 'files')} "
                          f"cannot be read: replace or exclude {'it' if len(unreadable) == 1 else 'them'}",
                          unreadable, 15))  # fmt: skip

    outliers = sorted((img for img in active if "identity-outlier" in img.flags),
                      key=lambda i: i.identity_score or 0.0)  # fmt: skip
    for img in outliers:
        out.append(Advice(f"identity-outlier:{img.rel}", "error",
                          f"{_name(img.rel)} is probably a different person "
                          f"({img.identity_score:.2f}): replace it", [img.rel], 5))  # fmt: skip
    for img in active:
        if "identity-review" in img.flags:
            out.append(Advice(f"identity-review:{img.rel}", "warning",
                              f"{_name(img.rel)} may be a different person "
                              f"({img.identity_score:.2f}): check it", [img.rel], 25))  # fmt: skip
    groups = [c for c in analysis.identity_clusters if len(c) >= 2]
    if len(groups) > 1:
        out.append(Advice("identities", "error", f"The images show {len(groups)} different "
                          f"people: keep only the character ({len(groups[0])} images)",
                          [p for g in groups[1:] for p in g], 4))  # fmt: skip
    if analysis.identity_note:
        # A warning, not a footnote: a wrong face poisons a LoRA, and nobody looked for one.
        note = analysis.identity_note
        out.append(Advice("identity-unavailable", "warning",
                          note[0].upper() + note[1:], [], 20))  # fmt: skip

    out.extend(_tier_advice(analysis, tiers))

    low_err = [img.rel for img in active if img.resolution_level == "error"]
    low_warn = [img.rel for img in active if img.resolution_level == "warning"]
    if low_err:
        out.append(Advice("resolution-error", "error", f"{_n(len(low_err), 'image is', 'images are')}"
                          f" below {th.short_side_error} px on the short side: replace "
                          f"{'it' if len(low_err) == 1 else 'them'}", low_err, 12))  # fmt: skip
    if low_warn:
        out.append(Advice("resolution-warning", "warning",
                          f"{_n(len(low_warn), 'image is', 'images are')} below "
                          f"{th.short_side_warn} px on the short side: fine for 512-768 "
                          "training, soft at 1024", low_warn, 60))  # fmt: skip
    if analysis.duplicates:
        count = len(analysis.duplicates)
        pairs = all(len(g.paths) == 2 for g in analysis.duplicates)
        kind = ("near-duplicate pair", "near-duplicate pairs") if pairs else (
            "near-duplicate group", "near-duplicate groups")  # fmt: skip
        paths = [p for g in analysis.duplicates for p in g.paths]
        one = "keep one" if count == 1 else "keep one of each"
        out.append(Advice("duplicates", "warning", f"{_n(count, *kind)}: {one} (the sharpest "
                          "is suggested)", paths, 40))  # fmt: skip
    for flag, pri, text in (
        ("blurry", 45, "{n} a blurry face: replace {them}"),
        ("small-face", 50, f"{{n}} a face smaller than {th.min_face_px} px: use larger images "
         "or crop closer"),
        ("multiple-faces", 42, "{n} more than one face: crop to the character or remove {them}"),
    ):  # fmt: skip
        paths = flagged(flag)
        if paths:
            msg = text.format(n=_n(len(paths), "image has", "images have"),
                              them="it" if len(paths) == 1 else "them")  # fmt: skip
            out.append(Advice(flag, "warning", msg, paths, pri))
    no_face = [img for img in active if "no-face" in img.flags]
    candidates = [img.rel for img in no_face if img.back_view_candidate]
    others = [img.rel for img in no_face if not img.back_view_candidate]
    if candidates:
        out.append(Advice("back-view-candidates", "warning",
                          f"{_n(len(candidates), 'image shows', 'images show')} a person but no "
                          "face: mark back views as such, remove the rest", candidates, 55))  # fmt: skip
    if others:
        out.append(Advice("no-face", "warning", f"{_n(len(others), 'image has', 'images have')}"
                          " no detectable face: remove "
                          f"{'it' if len(others) == 1 else 'them'} or mark back views", others, 46))  # fmt: skip
    borderline = flagged("borderline-tier")
    if borderline:
        out.append(Advice("borderline", "info", f"{_n(len(borderline), 'image sits', 'images sit')}"
                          " between two tiers: set the tier by hand if it is wrong",
                          borderline, 70))  # fmt: skip
    untiered = [img.rel for img in active if img.tier is None and img.pose == "back"]
    if untiered:
        out.append(Advice("back-view-tier", "info", f"{_n(len(untiered), 'back view has', 'back views have')}"
                          " no tier: set close-up, medium or full-body", untiered, 72))  # fmt: skip
    out.sort(key=lambda a: (SEVERITY_ORDER[a.severity], a.priority))
    return out
