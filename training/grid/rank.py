"""Rank a grid's checkpoints: identity, prompt obedience, shot tier, copies, collapse.

Works on any folder in the grid layout (``training.grid.plan``) plus the dataset folder:

* identity: each sample's main face against the dataset's identity (the centroid of the
  dataset's main faces, faces below 0.30 against the mean of the others left out), on the
  calibrated scale of ``curation.faces.embed.similarity``; samples with no face are counted;
* prompt obedience: CLIP / SigLIP image-text cosine with the trigger removed (when a model is
  given and loads), and always the shot tier: does the sample's face height put it in the tier
  the prompt names;
* copies: a sample whose perceptual hash is within ``COPY_HAMMING`` bits of a training image,
  or (with CLIP) whose image embedding is within ``COPY_CLIP`` of one, is a copy;
* collapse: how alike samples of different prompts are (CLIP image cosine, else the layout
  descriptor), per seed and strength.

A checkpoint with ``COPY_FRACTION`` of its samples copies, or collapsed, is flagged ``overfit``
and ranked after every checkpoint that is not; among the rest, those that follow prompts come
first, then the best identity, then the later step. Scores that cannot be computed are None
with the reason in ``unavailable``. The thresholds are first guesses documented in
``docs/grid.md``, not yet calibrated on real Z-Image grids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.grid import plan
from training.grid.features import FaceSource, ImageFeatures, measure, tier_of_ratio
from training.grid.thresholds import (
    COLLAPSE,
    COPY_CLIP,
    COPY_HAMMING,
    OUTLIER,
)
from training.grid.verdict import summarise

log = logging.getLogger(__name__)

_CELL = re.compile(r"^(\d+)_(\d+)_s([0-9.]+)\.png$")

Progress = Callable[[int, int, str], None]


def read_grid(grid_dir: Path) -> tuple[list[dict], list[plan.GridPrompt], list[dict]]:
    """(rows, prompts, cells) of a grid folder, from its manifest or from the layout alone."""
    manifest = plan.read_manifest(grid_dir)
    if manifest.get("prompts"):
        prompts = [plan.GridPrompt(**p) for p in manifest["prompts"]]
    elif (grid_dir / plan.PROMPTS_FILE).is_file():
        prompts = plan.read_prompts_file(grid_dir / plan.PROMPTS_FILE)
    else:
        raise ValueError(f"{grid_dir} is not a checkpoint grid (no prompts.txt)")
    rows = list(manifest.get("rows") or [])
    known = {r["name"] for r in rows}
    for sub in sorted(p for p in grid_dir.iterdir() if p.is_dir() and not p.is_symlink()):
        if sub.name not in known and any(_CELL.match(f.name) for f in sub.iterdir()):
            m = re.search(r"_(\d{4,9})$", sub.name)
            kind = "base" if sub.name == plan.BASE_ROW else "checkpoint"
            rows.append({"name": sub.name, "kind": kind, "step": int(m.group(1)) if m else None})
    cells = []
    for row in rows:
        folder = grid_dir / row["name"]
        if not folder.is_dir() or folder.is_symlink():
            continue
        for f in sorted(folder.iterdir()):
            m = _CELL.match(f.name)
            if m and f.is_file() and not f.is_symlink() and int(m.group(1)) < len(prompts):
                index, seed, strength = int(m.group(1)), int(m.group(2)), float(m.group(3))
                cells.append(
                    {
                        "row": row["name"],
                        "prompt": index,
                        "seed": seed,
                        "strength": strength,
                        "file": f"{row['name']}/{f.name}",
                        "path": f,
                    }
                )
    return rows, prompts, cells


def dataset_identity(
    feats: list[ImageFeatures], embedder: str
) -> tuple[np.ndarray | None, list[str]]:
    """The centroid of the dataset's main faces without outliers, and the outliers' names."""
    from curation.faces.base import normalise
    from curation.faces.calibration import calibration_for

    threshold = calibration_for(embedder).to_raw(OUTLIER)
    faces = [(f.path.name, normalise(f.face)) for f in feats if f.face is not None]
    if not faces:
        return None, []
    vecs = np.stack([v for _, v in faces])
    keep = np.ones(len(faces), dtype=bool)
    if len(faces) >= 3:
        for i in range(len(faces)):
            others = normalise(np.delete(vecs, i, axis=0).mean(axis=0))
            keep[i] = float(np.dot(vecs[i], others)) >= threshold
    if not keep.any():
        keep[:] = True
    outliers = [name for (name, _), k in zip(faces, keep, strict=True) if not k]
    return normalise(vecs[keep].mean(axis=0)), outliers


def rank_grid(
    grid_dir: str | Path,
    dataset_dir: str | Path,
    *,
    clip_model: str | None = None,
    face_backend: str = "auto",
    model_dir: str | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Score every cell and rank the checkpoints; see the module docstring for the result."""
    from curation.dataset import scan_folder
    from curation.faces.embed import similarity
    from training.grid.clip_score import ClipUnavailable, get_clip, strip_trigger

    grid_dir = Path(grid_dir)
    rows, prompts, cells = read_grid(grid_dir)
    manifest = plan.read_manifest(grid_dir)
    trigger = str(manifest.get("trigger") or "")
    unavailable: dict[str, str] = {}
    faces = FaceSource(face_backend, model_dir)
    if faces.name is None:
        unavailable["identity"] = faces.reason or "no face embedder"
    clip = None
    if clip_model:
        try:
            clip = get_clip(clip_model)
        except ClipUnavailable as exc:
            unavailable["prompt_obedience"] = str(exc)
    else:
        unavailable["prompt_obedience"] = "no image-text model chosen (--clip MODEL)"

    scan = scan_folder(dataset_dir)
    errors = [f"{e.path}: {e.error}" for e in scan.errors if getattr(e, "error", None)]
    total = len(scan.items) + len(cells)
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        step += 1
        if on_progress is not None:
            on_progress(step, total, what)

    data = []
    for item in scan.items:
        f = measure(item.path, faces, keep_pil=clip is not None)
        if f.error:
            errors.append(f"{item.rel}: {f.error}")
        else:
            data.append(f)
        tick(item.rel)
    centroid, outliers = dataset_identity(data, faces.name or "")
    if centroid is None and "identity" not in unavailable:
        unavailable["identity"] = "no face found in the dataset"
    samples = []
    for cell in cells:
        f = measure(cell["path"], faces, keep_pil=clip is not None)
        if f.error:
            errors.append(f"{cell['file']}: {f.error}")
            cell["error"] = f.error
        samples.append(f)
        tick(cell["file"])
    texts = None
    if clip is not None:
        _clip_features([*data, *[s for s in samples if s.error is None]], clip)
        texts = clip.texts([strip_trigger(p.text, trigger) for p in prompts])
    refs = dataset_references(data)
    for cell, f in zip(cells, samples, strict=True):
        if f.error:
            continue
        p = prompts[cell["prompt"]]
        cell["faces"] = f.faces
        cell["identity"] = (
            similarity(f.face, centroid, faces.name or "")
            if f.face is not None and centroid is not None
            else None
        )
        cell["tier"] = tier_of_ratio(f.face_ratio)
        cell["tier_expected"] = p.tier
        cell["tier_match"] = None if p.tier is None else cell["tier"] == p.tier
        cell["prompt_obedience"] = (
            float(np.dot(f.clip, texts[cell["prompt"]]))
            if f.clip is not None and texts is not None
            else None
        )
        cell.update(_nearest_training_image(f, data, refs))
    result = summarise(rows, prompts, cells, samples, unavailable, refs)
    result.update(
        dataset={
            "images": len(data),
            "faces": sum(f.face is not None for f in data),
            "outliers": outliers,
        },
        embedder=faces.name,
        clip_model=clip.name if clip else None,
        errors=errors,
        cells=[{k: v for k, v in c.items() if k != "path"} for c in cells],
    )
    return result


def _clip_features(feats: list[ImageFeatures], clip: Any, batch: int = 8) -> None:
    for i in range(0, len(feats), batch):
        chunk = feats[i : i + batch]
        for f, v in zip(chunk, clip.images([f.pil for f in chunk]), strict=True):
            f.clip, f.pil = v, None


def dataset_references(data: list[ImageFeatures]) -> dict[str, float]:
    """How alike the training images are among themselves, so that a model or a dataset where
    everything looks alike does not make every sample a copy or a collapse: a sample is a CLIP
    copy only when it is closer to a training image than any two training images are, and
    samples collapsed only when they are more alike than the training images."""
    refs = {"copy_clip": COPY_CLIP, "collapse_clip": COLLAPSE["clip"]}
    refs["collapse_layout"] = COLLAPSE["layout"]
    clips = [d.clip for d in data if d.clip is not None]
    if len(clips) >= 2:
        m = np.stack(clips) @ np.stack(clips).T
        off = m[~np.eye(len(clips), dtype=bool)]
        refs["copy_clip"] = max(COPY_CLIP, float(off.max()) + 1e-4)
        refs["collapse_clip"] = max(COLLAPSE["clip"], float(off.mean()))
    layouts = [d.layout for d in data if d.layout is not None]
    if len(layouts) >= 2:
        m = np.stack(layouts) @ np.stack(layouts).T
        off = m[~np.eye(len(layouts), dtype=bool)]
        refs["collapse_layout"] = max(COLLAPSE["layout"], float(off.mean()))
    return refs


def _nearest_training_image(
    f: ImageFeatures, data: list[ImageFeatures], refs: dict[str, float]
) -> dict[str, Any]:
    from curation.analysis.measures import hamming

    if not data or f.phash is None:
        return {"copy": False, "nearest": None, "nearest_hamming": None}
    dist, near = min(((hamming(f.phash, d.phash or 0), d) for d in data), key=lambda pair: pair[0])
    clip_sim = None
    if f.clip is not None:
        sims = [float(np.dot(f.clip, d.clip)) for d in data if d.clip is not None]
        clip_sim = max(sims) if sims else None
    copy = dist <= COPY_HAMMING or (clip_sim is not None and clip_sim >= refs["copy_clip"])
    return {
        "copy": bool(copy),
        "nearest": near.path.name,
        "nearest_hamming": int(dist),
        "nearest_clip": clip_sim,
    }
