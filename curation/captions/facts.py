"""Build the lint's optional per-image facts from what other parts of the app know.

Face analysis (tier, pose, back view) and autocaption detections are optional inputs: the
lint works without them, and uses them for ``invisible-feature`` and ``untagged-recurring``.
Typed against protocols and imported lazily: the analysis and the captioners are read only inside the
functions that read their caches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from curation.captions.issues import ImageFacts

if TYPE_CHECKING:
    from curation.analysis import ImageAnalysis
    from curation.balance.profiles import Profile
    from curation.workspace import Workspace


class HasImages(Protocol):
    """A ``DatasetAnalysis``, or anything else holding per-image analyses."""

    @property
    def images(self) -> Sequence[ImageAnalysis]: ...


def facts_from_analysis(
    analysis: HasImages, detected: Mapping[str, tuple[str, ...]] | None = None
) -> dict[str, ImageFacts]:
    """From a ``curation.analysis`` ``DatasetAnalysis`` (``.images`` of ``ImageAnalysis``).

    A back-view *candidate* is not a back view (domain rule: ask, do not guess); only a
    confirmed one (override ``back_view=True`` or pose ``back``) counts.
    """
    detected = detected or {}
    out: dict[str, ImageFacts] = {}
    for img in getattr(analysis, "images", []) or []:
        overrides = getattr(img, "overrides", {}) or {}
        pose = getattr(img, "pose", None)
        back = overrides.get("back_view") is True or pose == "back"
        out[img.rel] = ImageFacts(
            tier=getattr(img, "tier", None),
            pose=pose,
            back_view=back,
            detected=tuple(detected.get(img.rel, ())),
        )
    for rel, labels in detected.items():
        out.setdefault(rel, ImageFacts(detected=tuple(labels)))
    return out


def facts_from_workspace(workspace: Workspace) -> dict[str, ImageFacts]:
    """Cheap facts with no model run: the user's overrides (tier, pose, back view) and the
    objects the autocaptioner saw (from the workspace cache)."""
    from curation.captioners.autocaption import detected_objects

    detected = detected_objects(workspace)
    out: dict[str, ImageFacts] = {}
    for item in workspace.items:
        ov = workspace.overrides(item.rel) or {}
        tier, pose = ov.get("tier"), ov.get("pose")
        out[item.rel] = ImageFacts(
            tier=tier if isinstance(tier, str) else None,
            pose=pose if isinstance(pose, str) else None,
            back_view=ov.get("back_view") is True or pose == "back",
            detected=tuple(detected.get(item.rel, ())),
        )
    return out


def merge_facts(
    user: Mapping[str, ImageFacts], measured: Mapping[str, ImageFacts]
) -> dict[str, ImageFacts]:
    """``user`` facts (overrides, detections) laid over ``measured`` ones (face analysis):
    a value the user set wins; the measurement fills what the user left open."""
    out = dict(user)
    none = ImageFacts()
    for rel, m in measured.items():
        u = user.get(rel, none)
        out[rel] = ImageFacts(
            tier=u.tier or m.tier,
            pose=u.pose or m.pose,
            back_view=bool(u.back_view or m.back_view),
            detected=u.detected or m.detected,
        )
    return out


def lint_facts(
    workspace: Workspace, analysis: HasImages | None = None, profile: Profile | str | None = None
) -> dict[str, ImageFacts]:
    """Every fact the lint can get without running a model: the user's overrides and the
    autocaptioner's detections, over the face analysis. ``analysis``: a ``DatasetAnalysis``
    the caller just ran; when None, the cached one is read (no detection) if it exists,
    classified with ``profile`` (a balance ``Profile`` or its name; None: the default)."""
    if analysis is None:
        from curation.analysis.cached import cached_analysis

        analysis = cached_analysis(workspace, profile)
    user = facts_from_workspace(workspace)
    if analysis is None:
        return user
    return merge_facts(user, facts_from_analysis(analysis))
