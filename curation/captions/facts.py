"""Build the lint's optional per-image facts from what other parts of the app know.

Face analysis (tier, pose, back view) and autocaption detections are optional inputs: the
lint works without them, and uses them for ``invisible-feature`` and ``untagged-recurring``.
Duck-typed on purpose: this module imports neither the analysis nor the captioners.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.captions.lint import ImageFacts


def facts_from_analysis(
    analysis: Any, detected: Mapping[str, tuple[str, ...]] | None = None
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


def facts_from_workspace(workspace: Any) -> dict[str, ImageFacts]:
    """Cheap facts with no model run: the user's overrides (tier, pose, back view) and the
    objects the autocaptioner saw (from the workspace cache)."""
    from curation.captioners.autocaption import detected_objects

    detected = detected_objects(workspace)
    out: dict[str, ImageFacts] = {}
    for item in workspace.items:
        ov = workspace.overrides(item.rel) or {}
        pose = ov.get("pose")
        out[item.rel] = ImageFacts(
            tier=ov.get("tier"),
            pose=pose,
            back_view=ov.get("back_view") is True or pose == "back",
            detected=tuple(detected.get(item.rel, ())),
        )
    return out
