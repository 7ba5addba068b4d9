"""Turn cached raw measures into the per-image verdicts a user sees (tier, pose, flags).

User overrides (``tier``, ``pose``, ``back_view``) win over every measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curation.analysis.measures import (
    POSES,
    TIERS,
    aspect_bucket,
    classify_pose,
    classify_tier,
    pick_primary,
)
from curation.balance.profiles import Profile
from curation.faces.base import Face

__all__ = ["FLAGS", "BUCKET_RESOLUTIONS", "ImageAnalysis", "classify_image", "error_image"]

FLAGS = (
    "no-face",
    "multiple-faces",
    "small-face",
    "blurry",
    "low-resolution",
    "borderline-tier",
    "duplicate",
    "identity-outlier",
    "identity-review",
    "unusable-aspect",
    "unreadable",
)
# wider or taller than this (width/height or height/width) is no training image: a trainer's
# aspect buckets stop near 4:1, and detectors fail on a strip a pixel high
MAX_USABLE_ASPECT = 8.0
BUCKET_RESOLUTIONS = (512, 768, 1024)


@dataclass
class ImageAnalysis:
    """Everything Likeness concluded about one image (JSON via `to_dict`)."""

    rel: str
    width: int = 0
    height: int = 0
    faces: list[Face] = field(default_factory=list)  # kept faces, primary first
    ignored_faces: int = 0
    face_height_ratio: float | None = None
    face_px: float | None = None
    tier: str | None = None
    tier_source: str | None = None  # "measured" or "override"
    pose: str | None = None
    pose_value: float | None = None  # landmark ratio r, or yaw in degrees
    pose_source: str | None = None  # "landmarks", "angles", "cascade", "override"
    sharpness: float | None = None
    back_view_candidate: bool = False
    person_box: list[float] | None = None
    resolution_level: str | None = None  # None, "warning" (below warn), "error" (below floor)
    buckets: dict[int, tuple[int, int]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    identity_score: float | None = None
    duplicate_group: int | None = None
    keep_suggested: bool = False
    excluded: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    dhash: int = 0
    phash: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def primary(self) -> Face | None:
        return self.faces[0] if self.faces else None

    @property
    def ok(self) -> bool:
        return self.error is None

    def add_flag(self, flag: str) -> None:
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag}")
        if flag not in self.flags:
            self.flags.append(flag)
            self.flags.sort(key=FLAGS.index)

    def to_cli_dict(self) -> dict[str, Any]:
        """The entry of ``likeness analyze --json``."""
        out: dict[str, Any] = {
            "path": self.rel,
            "faces": len(self.faces),
            "tier": self.tier,
            "pose": self.pose if self.pose in ("frontal", "three-quarter", "profile") else None,
            "face_height_ratio": (
                round(self.face_height_ratio, 4) if self.face_height_ratio is not None else None
            ),
            "flags": list(self.flags),
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    def to_dict(self) -> dict[str, Any]:
        """The full record (report JSON ``images[]``, see docs/report-schema.md)."""
        out = self.to_cli_dict()
        out.update(
            {
                "width": self.width,
                "height": self.height,
                "pose": self.pose,
                "tier_source": self.tier_source,
                "pose_source": self.pose_source,
                "pose_value": round(self.pose_value, 3) if self.pose_value is not None else None,
                "face_px": round(self.face_px, 1) if self.face_px is not None else None,
                "face_boxes": [[round(v, 1) for v in f.box] for f in self.faces],
                "ignored_faces": self.ignored_faces,
                "sharpness": self.sharpness,
                "back_view_candidate": self.back_view_candidate,
                "resolution_level": self.resolution_level,
                "buckets": {str(k): list(v) for k, v in self.buckets.items()},
                "identity_score": (
                    round(self.identity_score, 4) if self.identity_score is not None else None
                ),
                "duplicate_group": self.duplicate_group,
                "keep_suggested": self.keep_suggested,
                "excluded": self.excluded,
                "overrides": dict(self.overrides),
                "notes": list(self.notes),
            }
        )
        return out


def error_image(rel: str, error: str, excluded: bool = False) -> ImageAnalysis:
    return ImageAnalysis(rel=rel, flags=["unreadable"], error=error, excluded=excluded)


def classify_image(
    rel: str,
    raw: dict[str, Any],
    profile: Profile,
    overrides: dict[str, Any] | None = None,
    excluded: bool = False,
) -> ImageAnalysis:
    """Per-image verdicts from raw measures (`curation.analysis.per_image`) and a profile."""
    th = profile.thresholds
    overrides = dict(overrides or {})
    width, height = int(raw["width"]), int(raw["height"])
    all_faces = [Face.from_dict(d) for d in raw.get("faces", [])]
    faces, ignored = pick_primary(all_faces, width, height, th.secondary_face_min_ratio)
    res = ImageAnalysis(
        rel=rel,
        width=width,
        height=height,
        faces=faces,
        ignored_faces=ignored,
        sharpness=raw.get("sharpness"),
        person_box=raw.get("person_box"),
        dhash=int(raw.get("dhash", "0"), 16),
        phash=int(raw.get("phash", "0"), 16),
        notes=list(raw.get("notes", [])),
        excluded=excluded,
        overrides=overrides,
    )
    if min(width, height) <= 0 or max(width, height) / min(width, height) > MAX_USABLE_ASPECT:
        res.add_flag("unusable-aspect")
        return res
    res.buckets = {r: aspect_bucket(width, height, r) for r in BUCKET_RESOLUTIONS}
    short = min(width, height)
    if short < th.short_side_error:
        res.resolution_level = "error"
    elif short < th.short_side_warn:
        res.resolution_level = "warning"
    if res.resolution_level:
        res.add_flag("low-resolution")

    primary = res.primary
    if primary is None:
        res.back_view_candidate = raw.get("person_box") is not None
    else:
        res.face_px = primary.height
        res.face_height_ratio = primary.height / height if height else None
        if res.face_height_ratio is not None:
            tier, near = classify_tier(
                res.face_height_ratio, th.close_up_min, th.medium_min, th.borderline
            )
            res.tier, res.tier_source = tier, "measured"
            if near:
                res.add_flag("borderline-tier")
        pose, value = classify_pose(primary, **th.pose.model_dump())
        if pose is not None:
            res.pose, res.pose_value = pose, value
            if primary.pose is not None:
                res.pose_source = "cascade" if primary.source == "profile" else "angles"
            else:
                res.pose_source = "landmarks" if primary.landmarks else "cascade"
        if len(faces) > 1:
            res.add_flag("multiple-faces")
        small = primary.height < th.min_face_px
        if small:
            res.add_flag("small-face")
        # A small face upscaled to 256 px always measures soft: small-face already says it.
        if res.sharpness is not None and res.sharpness < th.blur_below and not small:
            res.add_flag("blurry")

    back = overrides.get("back_view")
    if back is True:
        res.pose, res.pose_source, res.pose_value = "back", "override", None
    elif back is False:
        res.back_view_candidate = False
    if primary is None and back is not True:
        res.add_flag("no-face")
    tier_o = overrides.get("tier")
    if tier_o in TIERS:
        res.tier, res.tier_source = tier_o, "override"
        if "borderline-tier" in res.flags:
            res.flags.remove("borderline-tier")
    pose_o = overrides.get("pose")
    if pose_o in POSES:
        res.pose, res.pose_source, res.pose_value = pose_o, "override", None
    return res
