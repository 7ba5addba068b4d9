"""Analyse a dataset: per-image measures (cached), verdicts, duplicates and identity.

``analyze_dataset`` takes a `curation.workspace.Workspace` (cache, overrides and exclusions
come from its state) or a list of image paths (nothing is stored), reports progress through
``on_progress(done, total, message)``, stops between images when ``cancel`` is set, and turns
every unreadable image into a per-item error. Decoding (and the thumbnail hashes) runs in a
small thread pool ahead of the detector, which runs on the calling thread (detectors are not
thread-safe); the back-view person check of a face-less image runs in the pool too.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.analysis.classify import ImageAnalysis, classify_image, error_image
from curation.analysis.groups import duplicate_groups, identity_clusters, identity_scores
from curation.analysis.per_image import (
    DETECT_DRAFT,
    cache_key,
    measure_array,
    person_box,
    thumb_hashes,
)
from curation.balance.profiles import Profile, load_profile
from curation.errors import LikenessError
from curation.faces.base import FaceDetector
from curation.faces.calibration import calibration_for
from curation.jobs import CancelToken, ProgressFn, report

__all__ = [
    "CACHE_NAMESPACE",
    "DatasetAnalysis",
    "analyze_dataset",
    "finalize",
    "indexed_hashes",
    "reclassify",
]

log = logging.getLogger(__name__)
CACHE_NAMESPACE = "face-analysis"
INDEX_NAMESPACE = "face-analysis-index"  # rel -> {size, mtime_ns, hash}


@dataclass
class DuplicateGroup:
    paths: list[str]
    keep: str

    def to_dict(self) -> dict[str, Any]:
        return {"paths": list(self.paths), "keep": self.keep}


@dataclass
class DatasetAnalysis:
    root: str
    backend: str
    has_landmarks: bool
    has_embeddings: bool
    profile: Profile
    images: list[ImageAnalysis] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    identity_clusters: list[list[str]] = field(default_factory=list)
    identity_note: str | None = None
    cancelled: bool = False
    cached: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # rel -> raw measures | error

    def by_rel(self) -> dict[str, ImageAnalysis]:
        return {img.rel: img for img in self.images}

    @property
    def active(self) -> list[ImageAnalysis]:
        """Readable, not excluded images: what a training run would see."""
        return [img for img in self.images if img.ok and not img.excluded]

    def to_cli_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "images": [img.to_cli_dict() for img in self.images]}


class _Source:
    """A workspace, or plain paths with an in-memory cache and no overrides."""

    def __init__(self, source: Any, root: str | os.PathLike[str] | None) -> None:
        self.ws = source if hasattr(source, "cache_get_many") else None
        if self.ws is not None:
            self.root = Path(self.ws.root)
            self.items = [(item.rel, Path(item.path)) for item in self.ws.items]
        else:
            paths = [Path(p) for p in source]
            base = (
                Path(root)
                if root
                else Path(os.path.commonpath([p.parent for p in paths]) if paths else ".")
            )
            self.root = base
            self.items = [(_rel(p, base), p) for p in paths]
        self._memory: dict[str, Any] = {}

    def cache_get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        if self.ws is not None:
            return self.ws.cache_get_many(CACHE_NAMESPACE, keys)
        return {k: self._memory[k] for k in keys if k in self._memory}

    def content_hashes(self, pool: ThreadPoolExecutor) -> list[str | Exception | None]:
        """File content hashes; a workspace remembers them while size and mtime are unchanged,
        so a re-run reads no image file at all. Plain paths start with an empty cache, so
        nothing could be looked up: None (the decode hashes the bytes it reads anyway)."""
        if self.ws is None:
            return [None] * len(self.items)
        stats = _stats(self.ws)
        known = indexed_hashes(self.ws, stats)
        out: list[str | Exception | None] = []
        todo = []
        for index, (rel, path) in enumerate(self.items):
            out.append(known.get(rel))
            if rel not in known:
                todo.append((index, rel, path))
        fresh = list(pool.map(lambda t: _hash(t[2]), todo))
        store = {}
        for (index, rel, _), value in zip(todo, fresh, strict=True):
            out[index] = value
            if isinstance(value, str):
                size, mtime = stats[rel]
                store[rel] = {"size": size, "mtime_ns": mtime, "hash": value}
        if store:
            self.ws.cache_put_many(INDEX_NAMESPACE, store)
        return out  # type: ignore[return-value]

    def cache_put(self, key: str, value: Any) -> None:
        if self.ws is not None:
            self.ws.cache_put(CACHE_NAMESPACE, key, value)
        else:
            self._memory[key] = value

    def overrides(self, rel: str) -> dict[str, Any]:
        return self.ws.overrides(rel) if self.ws is not None else {}

    def excluded(self, rel: str) -> bool:
        return bool(self.ws.is_excluded(rel)) if self.ws is not None else False


def _stats(workspace: Any) -> dict[str, tuple[int, int]]:
    return {item.rel: (item.size_bytes, item.mtime_ns) for item in workspace.items}


def indexed_hashes(
    workspace: Any, stats: dict[str, tuple[int, int]] | None = None
) -> dict[str, str]:
    """rel -> content hash remembered in the analysis index, for the images whose size and
    mtime still match (``stats``: rel -> (size, mtime_ns), taken from the workspace if None)."""
    stats = _stats(workspace) if stats is None else stats
    known = workspace.cache_get_many(INDEX_NAMESPACE, stats)
    out: dict[str, str] = {}
    for rel, entry in known.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            continue
        if (entry.get("size"), entry.get("mtime_ns")) == stats.get(rel):
            out[rel] = entry["hash"]
    return out


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


def _hash(path: Path) -> str | Exception:
    from curation.images import file_hash

    try:
        return file_hash(path)
    except OSError as exc:
        return exc


Decoded = tuple[np.ndarray, Any, tuple[str, str]]


def _decode(path: Path, hashed: bool) -> Decoded | str:
    """Decode for detection and hash the thumbnail (no detection needed), in a pool thread.
    Returns the error text for an unreadable file."""
    from curation.images import load_image

    try:
        loaded = load_image(path, draft=DETECT_DRAFT)
        rgb = np.asarray(loaded.image)
        return rgb, loaded.info, thumb_hashes(rgb)
    except LikenessError as exc:
        if not hashed:  # same text as when the file could not even be hashed beforehand
            h = _hash(path)
            if isinstance(h, Exception):
                return f"cannot read: {h}"
        return str(exc) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
        log.exception("unexpected error decoding %s", path)
        return str(exc) or type(exc).__name__


def _full_loader(path: Path):
    def load(draft: tuple[int, int] | None = None) -> np.ndarray:
        from curation.images import load_image

        return np.asarray(load_image(path, draft=draft).image)

    return load


def analyze_dataset(
    source: Any,
    *,
    detector: FaceDetector | None = None,
    backend: str = "auto",
    profile: Profile | str | None = None,
    root: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    accept_license: bool = False,
    insightface_root: str | os.PathLike[str] | None = None,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
    on_item: Callable[[str, dict[str, Any] | str], None] | None = None,
) -> DatasetAnalysis:
    """Analyse every image of ``source`` (a Workspace or a list of paths under ``root``).

    Cached measures (keyed by content hash + backend + analysis version) are reused; a
    cancelled run returns what it has, with ``cancelled=True``. ``on_item(rel, raw)`` is called
    as each image's raw measures (or its error text) become known, cached ones first, so a GUI
    can show per-image results before the dataset-level verdicts.
    """
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    if detector is None:
        from curation.faces.registry import create_detector

        detector = create_detector(
            backend,
            model_dir=model_dir,
            accept_license=accept_license,
            insightface_root=insightface_root,
        )
    src = _Source(source, root)
    total = len(src.items)
    raws: dict[str, dict[str, Any] | str] = {}
    cached = 0
    report(on_progress, 0, total, f"hashing {total} images")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        hashes = src.content_hashes(pool)
        keys = {
            rel: cache_key(h, detector.name)
            for (rel, _), h in zip(src.items, hashes, strict=True)
            if isinstance(h, str)
        }
        hits = src.cache_get_many(keys.values())
        todo: list[tuple[str, Path, bool]] = []
        for (rel, path), h in zip(src.items, hashes, strict=True):
            if isinstance(h, Exception):
                raws[rel] = f"cannot read: {h}"
            elif h is not None and keys[rel] in hits:
                raws[rel] = hits[keys[rel]]
                cached += 1
            else:
                todo.append((rel, path, h is not None))
                continue
            if on_item is not None:
                on_item(rel, raws[rel])
        done = total - len(todo)
        report(on_progress, done, total, f"{cached} cached")
        cancelled = False
        # Decoding (+ thumbnail hashes) runs ahead in the pool; detection on this thread (or,
        # for a detector with ``parallel`` > 1, on that many detect threads: dlib's descriptor
        # waits on a child process with the GIL released, so two images overlap); the person
        # check of a face-less image goes back to the pool while the next image is detected.
        # Items are finished (cached, reported) in order.
        parallel = max(1, int(getattr(detector, "parallel", 1) or 1))
        detect_pool = ThreadPoolExecutor(parallel, "likeness-detect") if parallel > 1 else None
        decoding: deque[tuple[str, Path, Future]] = deque()
        # (rel, path, (value, person future) or a Future of it)
        finishing: deque[tuple[str, Path, Any]] = deque()
        queue = iter(todo)

        def feed() -> None:
            nxt = next(queue, None)
            if nxt is not None:
                decoding.append((nxt[0], nxt[1], pool.submit(_decode, nxt[1], nxt[2])))

        def measured(path: Path, rgb: np.ndarray, info: Any, thumb: Any) -> tuple[Any, Any]:
            try:
                raw = measure_array(
                    rgb,
                    detector,
                    full_size=(info.width, info.height),
                    full_loader=_full_loader(path),
                    hashes=thumb,
                    check_person=False,
                )
                raw["notes"] = list(info.notes)
                person = None
                if not raw["faces"]:
                    person = pool.submit(person_box, rgb, info.width / rgb.shape[1])
                return (raw, info.content_hash), person
            except Exception as exc:  # noqa: BLE001 - per-item error
                log.exception("analysis failed for %s", path)
                return f"analysis failed: {exc}", None

        def finish(block: bool, keep: int | None = None) -> None:
            nonlocal done
            while finishing:
                rel, path, job = finishing[0]
                wait = block or (keep is not None and len(finishing) > keep)
                if isinstance(job, Future):
                    if job.cancelled():
                        finishing.popleft()
                        continue
                    if not (wait or job.done()):
                        return
                    job = job.result()
                value, fut = job
                if not (wait or fut is None or fut.done()):
                    return
                finishing.popleft()
                if fut is not None:
                    try:
                        value[0]["person_box"] = fut.result()
                    except Exception as exc:  # noqa: BLE001 - per-item error
                        log.exception("person check failed for %s", path)
                        value = f"analysis failed: {exc}"
                if isinstance(value, tuple):
                    raw, content_hash = value
                    src.cache_put(cache_key(content_hash, detector.name), raw)
                    value = raw
                raws[rel] = value
                if on_item is not None:
                    on_item(rel, value)
                done += 1
                report(on_progress, done, total, rel)

        try:
            for _ in range(max(1, workers) + 1):
                feed()
            while decoding:
                if cancel is not None and cancel.cancelled:
                    cancelled = True
                    for _, _, fut in decoding:
                        fut.cancel()
                    for _, _, job in finishing:
                        if isinstance(job, Future):
                            job.cancel()
                    break
                rel, path, fut = decoding.popleft()
                feed()
                decoded = fut.result()
                if isinstance(decoded, str):
                    finishing.append((rel, path, (decoded, None)))
                elif detect_pool is not None:
                    finishing.append((rel, path, detect_pool.submit(measured, path, *decoded)))
                else:
                    finishing.append((rel, path, measured(path, *decoded)))
                # at most `parallel` images detected at once (+1 queued): bounded memory
                finish(block=False, keep=parallel if detect_pool is not None else None)
            finish(block=True)
        finally:
            if detect_pool is not None:
                detect_pool.shutdown(wait=True, cancel_futures=True)
    result = DatasetAnalysis(
        root=str(src.root),
        backend=detector.name,
        has_landmarks=detector.has_landmarks,
        has_embeddings=detector.has_embeddings,
        profile=profile,
        cancelled=cancelled,
        cached=cached,
        raw={rel: raws[rel] for rel, _ in src.items if rel in raws},
    )
    return reclassify(result, source)


def reclassify(
    result: DatasetAnalysis, source: Any = None, profile: Profile | str | None = None
) -> DatasetAnalysis:
    """Verdicts again from the stored raw measures, without touching any image file.

    Call it after the user changed an override or an exclusion (``source``: the workspace) or
    picked another profile. Returns ``result``, updated in place.
    """
    if profile is not None:
        result.profile = profile if isinstance(profile, Profile) else load_profile(profile)
    state = source if source is not None and hasattr(source, "overrides") else None
    images = []
    for rel, raw in result.raw.items():
        excluded = bool(state.is_excluded(rel)) if state is not None else False
        if isinstance(raw, str):
            images.append(error_image(rel, raw, excluded))
        else:
            overrides = state.overrides(rel) if state is not None else {}
            images.append(classify_image(rel, raw, result.profile, overrides, excluded))
    result.images = images
    finalize(result)
    return result


def _embeddings(images: Sequence[ImageAnalysis]) -> dict[str, np.ndarray]:
    out = {}
    for img in images:
        face = img.primary
        if face is not None and face.embedding is not None and img.pose != "back":
            out[img.rel] = face.embedding
    return out


def _relative_box(img: ImageAnalysis) -> tuple[float, float, float, float] | None:
    face = img.primary
    if face is None or not img.width or not img.height:
        return None
    x, y, w, h = face.box
    return x / img.width, y / img.height, w / img.width, h / img.height


def finalize(result: DatasetAnalysis) -> None:
    """Dataset-level verdicts on the active images: duplicate groups and identity.

    Identity scores are on the profile's (ArcFace-like) scale whatever the embedder: its raw
    cosines go through `curation.faces.calibration`, and the thresholds come back through it.
    """
    th = result.profile.thresholds
    cal = calibration_for(result.backend)
    active = result.active
    embeddings = _embeddings(active)
    groups = duplicate_groups(
        [img.rel for img in active],
        [img.dhash for img in active],
        [img.phash for img in active],
        embeddings,
        hash_max=th.duplicate_hash_max,
        embedding_min=cal.to_raw(th.duplicate_embedding_min),
        face_boxes=[_relative_box(img) for img in active],
    )
    by_rel = result.by_rel()
    result.duplicates = []
    for index, members in enumerate(groups):

        def quality(rel: str) -> tuple[float, int]:
            img = by_rel[rel]
            return (img.sharpness or 0.0, img.width * img.height)

        keep = max(members, key=quality)
        result.duplicates.append(DuplicateGroup(members, keep))
        for rel in members:
            by_rel[rel].duplicate_group = index
            by_rel[rel].keep_suggested = rel == keep
            by_rel[rel].add_flag("duplicate")

    if not result.has_embeddings:
        from curation.faces.registry import identity_unchecked_note

        result.identity_note = identity_unchecked_note(result.backend)
        return
    if len(embeddings) < 3:
        result.identity_note = (
            f"identity not checked: it needs at least 3 images with a face, "
            f"{len(embeddings)} found. Fix: add images where the face is visible"
        )
        return
    clusters = identity_clusters(embeddings, threshold=cal.to_raw(th.identity_review_below - 0.05))
    result.identity_clusters = clusters
    reference = clusters[0] if clusters and len(clusters[0]) * 2 > len(embeddings) else None
    scores = identity_scores(embeddings, reference)
    for rel, raw_score in scores.items():
        img = by_rel[rel]
        score = cal.to_score(raw_score)
        img.identity_score = score
        relax = th.identity_profile_relax if img.pose == "profile" else 0.0
        if img.overrides.get("identity") == "ok":
            continue  # the user checked it: the same person (override wins)
        if score < th.identity_outlier_below - relax:
            img.add_flag("identity-outlier")
        elif score < th.identity_review_below - relax:
            img.add_flag("identity-review")
