"""Balance profiles: what a good dataset looks like for one kind of LoRA, as YAML data.

Bundled profiles live in ``resources/profiles/*.yaml`` (``character``, ``face``); a user
profile is any YAML file with the same fields (start from a copy of a bundled one). Unknown
keys are errors, so a misspelt threshold never passes silently.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curation.errors import LikenessError

__all__ = [
    "ProfileError",
    "Profile",
    "Thresholds",
    "PoseThresholds",
    "CaptionBudget",
    "builtin_profiles",
    "available_profiles",
    "user_profile_dir",
    "load_profile",
    "DEFAULT_PROFILE",
]

DEFAULT_PROFILE = "character"
TierName = Literal["close-up", "medium", "full-body"]


class ProfileError(LikenessError):
    """A balance profile cannot be found or is invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSize(_Strict):
    min: int = 15
    recommended_min: int = 20
    recommended_max: int = 40
    error_below: int = 10


class TierTarget(_Strict):
    target: int = Field(ge=0)
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Variety(_Strict):
    block_size: int = Field(default=10, ge=1)
    profile_per_block: int = Field(default=2, ge=0)
    back_view_per_block: dict[TierName, int] = Field(default_factory=dict)
    min_frontal_share: float = Field(default=0.5, ge=0, le=1)


class PoseThresholds(_Strict):
    frontal_max_r: float = 0.15
    profile_min_r: float = 0.55
    profile_max_iod_ratio: float = 0.30
    yaw_frontal: float = 20.0
    yaw_profile: float = 60.0


class Thresholds(_Strict):
    close_up_min: float = Field(default=0.38, gt=0, lt=1.5)
    medium_min: float = Field(default=0.18, gt=0, lt=1.5)
    borderline: list[tuple[float, float]] = Field(default_factory=lambda: [(0.15, 0.20)])
    secondary_face_min_ratio: float = Field(default=0.35, ge=0, le=1)
    pose: PoseThresholds = Field(default_factory=PoseThresholds)
    blur_below: float = 30.0
    min_face_px: int = 100
    short_side_warn: int = 1024
    short_side_error: int = 512
    identity_outlier_below: float = 0.30
    identity_review_below: float = 0.45
    identity_profile_relax: float = 0.10
    duplicate_hash_max: int = Field(default=10, ge=0, le=64)
    duplicate_embedding_min: float = Field(default=0.92, ge=-1, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.medium_min >= self.close_up_min:
            raise ValueError("medium_min must be below close_up_min")
        if self.identity_outlier_below > self.identity_review_below:
            raise ValueError("identity_outlier_below must not exceed identity_review_below")
        if self.short_side_error > self.short_side_warn:
            raise ValueError("short_side_error must not exceed short_side_warn")
        return self


class CaptionBudget(_Strict):
    """Caption rules that depend on the kind of LoRA (a face LoRA wants short captions)."""

    max_words: int = Field(default=75, ge=0)  # the lint's ``too-long`` budget; 0 turns it off


class Profile(_Strict):
    schema_version: Literal[1] = 1
    name: str
    title: str = ""
    description: str = ""
    dataset_size: DatasetSize = Field(default_factory=DatasetSize)
    reference_size: int = Field(default=30, ge=1)
    scale_targets: bool = True
    tiers: dict[TierName, TierTarget]
    variety: Variety = Field(default_factory=Variety)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    captions: CaptionBudget = Field(default_factory=CaptionBudget)
    source: str = ""  # where it was loaded from (set by load_profile)

    def tier_range(self, tier: str, n_images: int) -> tuple[int, int, int]:
        """(target, min, max) images of ``tier`` for a dataset of ``n_images``."""
        spec = self.tiers.get(tier)  # type: ignore[call-overload]
        if spec is None:
            return 0, 0, 0
        if not self.scale_targets:
            lo = spec.min if spec.min is not None else spec.target
            hi = spec.max if spec.max is not None else spec.target
            return spec.target, lo, hi
        total = sum(t.target for t in self.tiers.values()) or 1
        share = spec.target / total
        target = round(n_images * share)
        # Tolerance: one image, or 15 % of the target, whichever is more.
        slack = max(1, math.floor(target * 0.15 + 0.5))
        lo = spec.min if spec.min is not None else max(0, target - slack)
        hi = spec.max if spec.max is not None else target + slack
        return target, lo, hi


def builtin_profiles() -> dict[str, Path]:
    from resources import resource_path

    folder = resource_path("profiles")
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def user_profile_dir() -> Path:
    """``<config dir>/profiles``: YAML files there are offered by name next to the bundled."""
    from curation.paths import config_dir

    return config_dir() / "profiles"


def available_profiles() -> dict[str, Path]:
    """Bundled profiles plus the user's (a user file named like a bundled one replaces it)."""
    found = builtin_profiles()
    folder = user_profile_dir()
    if folder.is_dir():
        found.update({p.stem: p for p in sorted(folder.glob("*.yaml"))})
    return found


def load_profile(name_or_path: str | os.PathLike[str] | None = None) -> Profile:
    """A bundled profile by name (``character``, ``face``) or a user profile YAML file."""
    key = str(name_or_path) if name_or_path is not None else DEFAULT_PROFILE
    bundled = available_profiles()
    if key in bundled:
        path = bundled[key]
    else:
        path = Path(key).expanduser()
        if not path.is_file():
            raise ProfileError(
                f"no balance profile {key!r}: use one of {sorted(bundled)} or a YAML file path"
            )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path} must be a YAML mapping")
    try:
        return Profile.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProfileError(f"profile {path} is invalid: {problems}") from exc
