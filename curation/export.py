"""Export a cleaned copy of a dataset into a new folder; the originals are never touched.

Operations, in this order, per image:

1. **crop edges** (``crop_edges={"right": 150, "bottom": 150}``): cut N pixels off chosen edges
   (generator watermarks);
2. **face crop** (``face_crop=1024, face_ratio=0.6``): a square centred on the primary face,
   sized so the face-box height is ``face_ratio`` x the square's side, then resized to
   ``face_crop`` x ``face_crop``. Near an image edge the square slides to stay inside the image
   (the face is then off-centre); when the square would be larger than the image's short side
   it shrinks to that side and the face comes out larger than asked. Nothing is padded: padding
   would teach the LoRA borders. An image without a face gets a centred square.

Excluded and unreadable images are left out; captions come along (with the workspace's
pending edits); ``manifest.json`` records what was done to every file. ``preview`` shows the
before/after of one image for the export dialog.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from curation.errors import LikenessError
from curation.export_plan import (
    FACE_MODES,
    ExportPlanError,
    check_layout,
    face_crop_box,
    keep_tier_box,
    output_rel,
    zip_folder,
)
from curation.fsio import write_atomic, write_atomic_text
from curation.jobs import CancelToken, ItemResult, ProgressFn, report

__all__ = [
    "ExportError",
    "ExportOptions",
    "ExportResult",
    "PreviewResult",
    "parse_edges",
    "face_crop_box",
    "export_dataset",
    "preview",
]

log = logging.getLogger(__name__)
EDGES = ("left", "top", "right", "bottom")
MANIFEST_VERSION = 1
_SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}  # fmt: skip


class ExportError(LikenessError):
    """The export cannot start (target folder not usable, bad options)."""


@dataclass
class ExportOptions:
    crop_edges: dict[str, int] = field(default_factory=dict)
    face_crop: int | None = None  # output side in pixels
    face_ratio: float = 0.6  # face-box height / output side
    jpeg_quality: int = 95
    # "square": a face_ratio square; "keep-tier": the largest square that keeps the image's
    # shot tier, else the whole image (see export_plan.keep_tier_box); needs tier_thresholds
    face_mode: str = "square"
    tier_thresholds: tuple[float, float] | None = None  # (close_up_min, medium_min)
    leave_out: list[str] = field(default_factory=list)  # rels left out (flagged images)
    layout: str = "mirror"  # "mirror", "kohya" (<repeats>_<trigger>/), "flat" (ai-toolkit)
    trigger: str = ""
    repeats: int = 10
    zip: bool = False  # also write <out>.zip

    def validate(self) -> None:
        for edge, px in self.crop_edges.items():
            if edge not in EDGES or int(px) < 0:
                raise ExportError(f"bad edge crop {edge}={px}: use left/top/right/bottom >= 0")
        if self.face_crop is not None and not 64 <= self.face_crop <= 8192:
            raise ExportError("face crop size must be between 64 and 8192 px")
        if not 0.05 <= self.face_ratio <= 1.0:
            raise ExportError("face ratio must be between 0.05 and 1.0 (0.6: face fills 60%)")
        if self.face_mode not in FACE_MODES:
            raise ExportError(f"face crop mode must be one of {', '.join(FACE_MODES)}")
        if self.face_mode == "keep-tier" and self.tier_thresholds is None:
            raise ExportError("keeping each image's tier needs the profile's tier thresholds")
        try:
            check_layout(self.layout, self.trigger, self.repeats)
        except ExportPlanError as exc:
            raise ExportError(str(exc)) from exc

    @property
    def transforms(self) -> bool:
        return any(v for v in self.crop_edges.values()) or self.face_crop is not None


def parse_edges(spec: str) -> dict[str, int]:
    """``"150,150"`` (right, bottom) or ``"right=150,bottom=150,left=0,top=20"``."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    try:
        if parts and all("=" not in p for p in parts):
            if len(parts) != 2:
                raise ExportError("give RIGHT,BOTTOM pixels, or name the edges: right=150,top=20")
            return {"right": int(parts[0]), "bottom": int(parts[1])}
        out = {}
        for part in parts:
            edge, _, value = part.partition("=")
            edge = edge.strip().lower()
            if edge not in EDGES:
                raise ExportError(f"unknown edge {edge!r}: use left, top, right, bottom")
            out[edge] = int(value)
    except ValueError as exc:
        raise ExportError(f"bad edge crop {spec!r}: pixels must be whole numbers") from exc
    if any(v < 0 for v in out.values()):
        raise ExportError("edge crops must be >= 0 px")
    return out


@dataclass
class PreviewResult:
    before: Image.Image
    after: Image.Image
    crop_box: tuple[int, int, int, int]  # in ``before`` pixels: what is kept
    operations: list[dict[str, Any]]
    notes: list[str]


def _transform(
    image: Image.Image, options: ExportOptions, face: tuple[float, float, float, float] | None
) -> tuple[Image.Image, tuple[int, int, int, int], list[dict[str, Any]], list[str]]:
    ops: list[dict[str, Any]] = []
    notes: list[str] = []
    w, h = image.size
    e = {k: int(options.crop_edges.get(k, 0)) for k in EDGES}
    box = (e["left"], e["top"], w - e["right"], h - e["bottom"])
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        raise ExportError(f"edge crop {e} leaves nothing of a {w}x{h} image")
    if any(e.values()):
        image = image.crop(box)
        ops.append(
            {"op": "crop-edges", **{k: v for k, v in e.items() if v}, "size": list(image.size)}
        )
    keep = box
    if options.face_crop is not None:
        if face is not None:
            fx, fy, fw, fh = face
            face = (fx - box[0], fy - box[1], fw, fh)
        if options.face_mode == "keep-tier" and options.tier_thresholds is not None:
            square, more = keep_tier_box(image.width, image.height, face, options.tier_thresholds)
            side_h = square[3] - square[1]
            actual = face[3] / side_h if face is not None and side_h else None
        else:
            square, actual, more = face_crop_box(
                image.width, image.height, face, options.face_ratio
            )
        notes += more
        image = image.crop(square)
        cw, ch = square[2] - square[0], square[3] - square[1]
        size = options.face_crop
        # a square becomes size x size; a frame kept whole keeps its aspect at the same area
        scale = size / (cw * ch) ** 0.5
        out_w, out_h = (size, size) if cw == ch else (round(cw * scale), round(ch * scale))
        if out_w > cw:
            notes.append(f"upscaled from {cw} px")
        image = image.resize((out_w, out_h), Image.Resampling.LANCZOS)
        ops.append(
            {
                "op": "face-crop",
                "mode": options.face_mode,
                "box": list(square),
                "face_ratio": round(actual, 3) if actual else None,
            }
        )
        ops.append({"op": "resize", "size": [out_w, out_h]})
        keep = (box[0] + square[0], box[1] + square[1], box[0] + square[2], box[1] + square[3])
    return image, keep, ops, notes


def preview(
    path: str | os.PathLike[str],
    options: ExportOptions,
    face: tuple[float, float, float, float] | None = None,
    max_side: int = 768,
) -> PreviewResult:
    """Before/after of one image, both at most ``max_side`` px; ``crop_box`` is in ``before``."""
    from curation.images import load_image

    options.validate()
    original = load_image(Path(path)).image
    after, keep, ops, notes = _transform(original, options, face)
    scale = min(1.0, max_side / max(original.size))
    before = original
    if scale < 1.0:
        before = original.resize((round(original.width * scale), round(original.height * scale)))
    after.thumbnail((max_side, max_side))
    crop = tuple(round(v * scale) for v in keep)
    return PreviewResult(before, after, crop, ops, notes)  # type: ignore[arg-type]


@dataclass
class ExportResult:
    out_dir: Path
    items: list[ItemResult]
    manifest_path: Path
    cancelled: bool = False
    zip_path: Path | None = None

    @property
    def exported(self) -> int:
        return sum(
            1 for it in self.items if it.ok and it.value and it.value.get("status") == "exported"
        )


def _check_target(root: Path, out: Path) -> None:
    root_r, out_r = root.resolve(), out.resolve()
    if out_r == root_r or root_r in out_r.parents:
        raise ExportError(f"export into a new folder outside the dataset, not {out}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not empty: pick a new folder")


def _items(source: Any, root: str | os.PathLike[str] | None):
    """(root, [(rel, path, caption text or None, excluded)]) from a Workspace or paths."""
    if hasattr(source, "is_excluded"):
        ws = source
        out = []
        for item in ws.items:
            caption = ws.caption(item.rel) if ws.has_caption(item.rel) else None
            out.append((item.rel, Path(item.path), caption, ws.is_excluded(item.rel)))
        return Path(ws.root), out
    paths = [Path(p) for p in source]
    base = Path(root) if root else Path(os.path.commonpath([p.parent for p in paths]))
    out = []
    for p in paths:
        text = _read_sidecar(p.with_suffix(".txt"))
        out.append((p.relative_to(base).as_posix(), p, text, False))
    return base, out


def _read_sidecar(path: Path) -> str | None:
    """The caption beside an image, decoded like everywhere else (BOMs, UTF-16, cp1252)."""
    from curation.caption_io import read_caption
    from curation.errors import CaptionReadError

    try:
        caption = read_caption(path)
    except CaptionReadError as exc:
        log.warning("caption %s left out of the export: %s", path, exc)
        return None
    return caption.text if caption.exists else None


def export_dataset(
    source: Any,
    out_dir: str | os.PathLike[str],
    options: ExportOptions,
    *,
    faces: dict[str, tuple[float, float, float, float] | None] | None = None,
    detector: Any = None,
    root: str | os.PathLike[str] | None = None,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Export ``source`` (a Workspace, or image paths under ``root``) into ``out_dir``.

    For a face crop, ``faces`` maps rel -> primary face box in original pixels (from an
    analysis); images missing there are detected with ``detector`` if one is given.
    """
    options.validate()
    base, items = _items(source, root)
    out = Path(out_dir)
    _check_target(base, out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[ItemResult] = []
    total = len(items)
    cancelled = False
    leave_out = set(options.leave_out)
    used: set[str] = set()  # output names taken (case-folded: flat layouts on any disk)
    for index, (rel, path, caption, excluded) in enumerate(items):
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
        record: dict[str, Any] = {"source": rel, "output": None, "operations": [], "notes": []}
        if excluded or rel in leave_out:
            record["status"] = "excluded" if excluded else "left-out"
            results.append(ItemResult(rel, record))
            report(on_progress, index + 1, total, rel)
            continue
        try:
            dest = output_rel(rel, options.layout, options.trigger, options.repeats)
            if dest.lower() in used:
                raise ExportError(f"{dest} would overwrite another image in this layout")
            used.add(dest.lower())
            record.update(_export_one(rel, path, caption, out, options, faces, detector, dest))
            results.append(ItemResult(rel, record))
        except (LikenessError, OSError) as exc:
            record["status"] = "error"
            record["error"] = str(exc)
            results.append(ItemResult(rel, record, error=str(exc)))
        report(on_progress, index + 1, total, rel)
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "source": str(base),
        "options": asdict(options),
        "complete": not cancelled,
        "files": [r.value for r in results],
    }
    manifest_path = out / "manifest.json"
    write_atomic_text(manifest_path, json.dumps(manifest, indent=2), root=out)
    zipped = None
    if options.zip and not cancelled:
        try:
            zipped = zip_folder(out)
        except (OSError, ExportPlanError) as exc:
            raise ExportError(f"the export is in {out}, but its zip failed: {exc}") from exc
    return ExportResult(out, results, manifest_path, cancelled, zipped)


def _export_one(rel, path, caption, out, options, faces, detector, dest) -> dict[str, Any]:
    from curation.images import load_image, probe_image

    target = out / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"output": dest, "operations": [], "notes": []}
    if not options.transforms:
        probe_image(path)  # an unreadable file is left out, not copied
        with open(path, "rb") as fh:  # a regular file: the scan skipped FIFOs and devices
            write_atomic(target, fh.read(), root=out)
        shutil.copystat(path, target)
        record["operations"].append({"op": "copy"})
    else:
        loaded = load_image(path)
        face = (faces or {}).get(rel)
        if face is None and options.face_crop is not None and detector is not None:
            face = _detect_primary(loaded.image, detector)
        image, _, ops, notes = _transform(loaded.image, options, face)
        suffix = path.suffix.lower()
        fmt = _SAVE_FORMATS.get(suffix, "PNG")
        if fmt == "PNG" and suffix not in _SAVE_FORMATS:
            target = target.with_suffix(".png")
            record["output"] = Path(dest).with_suffix(".png").as_posix()
        kwargs: dict[str, Any] = {}
        if fmt in ("JPEG", "WEBP"):
            kwargs["quality"] = options.jpeg_quality
        buf = io.BytesIO()
        image.save(buf, fmt, **kwargs)
        write_atomic(target, buf.getvalue(), root=out)
        record["operations"] = ops
        record["notes"] = notes + list(loaded.notes)
        record["size"] = list(image.size)
    if caption is not None:
        write_atomic_text(target.with_suffix(".txt"), caption, root=out)
        record["caption"] = Path(record["output"]).with_suffix(".txt").as_posix()
    else:
        record["caption"] = None
    record["status"] = "exported"
    return record


def _detect_primary(image: Image.Image, detector: Any):
    import numpy as np

    from curation.analysis.measures import pick_primary

    faces = detector.detect(np.asarray(image))
    kept, _ = pick_primary(faces, image.width, image.height)
    return kept[0].box if kept else None
