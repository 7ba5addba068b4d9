"""The last face analysis of a workspace, read back from its cache without running detection.

``analyze_dataset`` stores each image's raw measures under ``content-hash:backend:vN`` and
remembers every file's content hash while its size and mtime are unchanged. This module reads
both and re-derives the verdicts (tier, pose, flags) with `reclassify`, which touches no image
file and loads no model: cheap enough for ``likeness lint`` to use whenever it runs. An image
whose file changed since the last analysis (or that was never analysed) is simply absent.
"""

from __future__ import annotations

import logging
from typing import Any

from curation.analysis.per_image import cache_key
from curation.analysis.runner import (
    CACHE_NAMESPACE,
    DatasetAnalysis,
    indexed_hashes,
    reclassify,
)
from curation.balance.profiles import Profile, load_profile

__all__ = ["BACKEND_PREFERENCE", "cached_analysis"]

log = logging.getLogger(__name__)

#: best first; a tie in coverage goes to the earlier backend
BACKEND_PREFERENCE = ("insightface", "yunet+sface", "yunet+dlib", "hog+dlib", "yunet", "haar")


def _best_backend(
    workspace: Any, hashes: dict[str, str], backends: tuple[str, ...]
) -> tuple[str, dict[str, Any]] | None:
    best: tuple[str, dict[str, Any]] | None = None
    for backend in backends:
        keys = {rel: cache_key(h, backend) for rel, h in hashes.items()}
        hits = workspace.cache_get_many(CACHE_NAMESPACE, keys.values())
        raws = {rel: hits[key] for rel, key in keys.items() if isinstance(hits.get(key), dict)}
        if raws and (best is None or len(raws) > len(best[1])):
            best = (backend, raws)
    return best


def cached_analysis(
    workspace: Any,
    profile: Profile | str | None = None,
    backends: tuple[str, ...] = BACKEND_PREFERENCE,
) -> DatasetAnalysis | None:
    """The cached analysis of ``workspace`` for its current files, or None when none is cached.

    Uses the backend that covers the most current images (ties: the better backend, in
    `BACKEND_PREFERENCE` order); images without a cached result for it are left out.
    Overrides and exclusions come from the workspace, as in `analyze_dataset`. Never raises
    for a broken cache: it logs and returns None (the caller works without face facts).
    """
    try:
        hashes = indexed_hashes(workspace)
        if not hashes:
            return None
        found = _best_backend(workspace, hashes, tuple(backends))
        if found is None:
            return None
        backend, raws = found
        if not isinstance(profile, Profile):
            profile = load_profile(profile)
        faces = [f for raw in raws.values() for f in raw.get("faces") or []]
        order = [item.rel for item in workspace.items if item.rel in raws]
        result = DatasetAnalysis(
            root=str(workspace.root),
            backend=backend,
            has_landmarks=any(f.get("landmarks") for f in faces) or backend != "haar",
            has_embeddings=any(f.get("embedding") for f in faces),
            profile=profile,
            cached=len(raws),
            raw={rel: raws[rel] for rel in order},
        )
        return reclassify(result, workspace)
    except Exception as exc:  # noqa: BLE001 - an optional input: a bad cache means no facts
        log.warning("cannot read the cached face analysis: %s", exc)
        return None
