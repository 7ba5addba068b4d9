"""Live likeness during training: each preview sample scored for identity and copies.

The core of the Train tab's likeness curve (issue 14 draws it): ``LikenessTracker`` measures the
dataset once (identity centroid without outliers, perceptual hashes), then ``score`` rates one
``sample_saved`` image (call it from a worker thread, never the GUI thread: face detection
takes ~0.3-1 s per image on a CPU); ``curve`` gives per step the mean identity, the faces found
and the fraction of samples that copy a training image, so the user sees the likeness rise
and, later, the copy score climb. ``score_run_samples`` does the same for a finished run's
``samples/<step>/`` folders.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.grid.features import FaceSource, ImageFeatures, measure
from training.grid.thresholds import COPY_HAMMING

_SAMPLE = re.compile(r"^\d+_\d+\.png$")


class LikenessTracker:
    def __init__(
        self, dataset_dir: str | Path, face_backend: str = "auto", model_dir: str | None = None
    ):
        self.dataset_dir = Path(dataset_dir)
        self.face_backend, self.model_dir = face_backend, model_dir
        self.scores: list[dict[str, Any]] = []
        self.unavailable: str | None = None
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._faces: FaceSource | None = None
        self._data: list[ImageFeatures] = []
        self._centroid = None

    def prepare(self) -> None:
        """Measure the dataset (once; ``score`` calls it)."""
        from curation.dataset import scan_folder
        from training.grid.rank import dataset_identity

        with self._lock:
            if self._faces is not None:
                return
            faces = FaceSource(self.face_backend, self.model_dir)
            for item in scan_folder(self.dataset_dir).items:
                f = measure(item.path, faces)
                if f.error:
                    self.errors.append(f"{item.rel}: {f.error}")
                else:
                    self._data.append(f)
            self._centroid, _ = dataset_identity(self._data, faces.name or "")
            if faces.name is None:
                self.unavailable = faces.reason
            elif self._centroid is None:
                self.unavailable = "no face found in the dataset"
            self._faces = faces

    def score(self, path: str | Path, step: int) -> dict[str, Any]:
        """Identity and copy of one sample; an unreadable one has ``error`` set."""
        from curation.analysis.measures import hamming
        from curation.faces.embed import similarity

        self.prepare()
        assert self._faces is not None
        f = measure(Path(path), self._faces)
        out: dict[str, Any] = {"step": int(step), "path": str(path), "error": f.error}
        if f.error is None:
            dist = min((hamming(f.phash or 0, d.phash or 0) for d in self._data), default=None)
            out.update(
                identity=(
                    similarity(f.face, self._centroid, self._faces.name or "")
                    if f.face is not None and self._centroid is not None
                    else None
                ),
                faces=f.faces,
                copy=dist is not None and dist <= COPY_HAMMING,
                nearest_hamming=dist,
            )
        with self._lock:
            self.scores.append(out)
        return out

    def curve(self) -> list[dict[str, Any]]:
        """Per step: ``identity`` (mean over samples with a face), ``copy`` (fraction),
        ``faces_found`` / ``samples``."""
        with self._lock:
            scores = [s for s in self.scores if s.get("error") is None]
        by_step: dict[int, list[dict[str, Any]]] = {}
        for s in scores:
            by_step.setdefault(s["step"], []).append(s)
        out = []
        for step in sorted(by_step):
            items = by_step[step]
            ids = [s["identity"] for s in items if s["identity"] is not None]
            out.append(
                {
                    "step": step,
                    "identity": sum(ids) / len(ids) if ids else None,
                    "copy": sum(1 for s in items if s["copy"]) / len(items),
                    "faces_found": sum(1 for s in items if s["faces"]),
                    "samples": len(items),
                }
            )
        return out


def score_run_samples(
    run_dir: str | Path,
    dataset_dir: str | Path,
    *,
    tracker: LikenessTracker | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> LikenessTracker:
    """Score every ``<run>/samples/<step>/<index>_<seed>.png``; returns the tracker (``curve``)."""
    tracker = tracker or LikenessTracker(dataset_dir)
    root = Path(run_dir) / "samples"
    todo: list[tuple[int, Path]] = []
    if root.is_dir() and not root.is_symlink():
        for sub in root.iterdir():
            if sub.is_dir() and not sub.is_symlink() and sub.name.isdigit():
                todo += [
                    (int(sub.name), p)
                    for p in sorted(sub.iterdir())
                    if _SAMPLE.match(p.name) and p.is_file() and not p.is_symlink()
                ]
    todo.sort()
    for i, (step, path) in enumerate(todo, 1):
        tracker.score(path, step)
        if on_progress is not None:
            on_progress(i, len(todo), str(path))
    return tracker


def tracker_note(tracker: LikenessTracker) -> str:
    """Why a curve lacks identity (no embedder, no face in the dataset), and unreadable samples."""
    notes = []
    if tracker.unavailable:
        notes.append(f"no identity score: {tracker.unavailable}")
    bad = [s for s in tracker.scores if s.get("error")]
    if bad:
        notes.append(f"{len(bad)} sample(s) unreadable ({Path(bad[-1]['path']).name})")
    return "; ".join(notes)


_TRACKERS: dict[tuple[str, int], LikenessTracker] = {}


def score_sample(
    dataset_dir: str, run_key: int, path: str, step: int
) -> tuple[list[dict[str, Any]], str]:
    """One sample scored with the tracker of ``(dataset_dir, run_key)`` (kept for the next
    call, the previous run's dropped); returns the curve and its note. Meant to run in a
    worker process: dlib's face detection holds the GIL for ~0.5 s per image."""
    key = (str(dataset_dir), int(run_key))
    tracker = _TRACKERS.get(key)
    if tracker is None:
        _TRACKERS.clear()
        tracker = _TRACKERS[key] = LikenessTracker(dataset_dir)
    tracker.score(path, step)
    return tracker.curve(), tracker_note(tracker)
