"""Training data: the dataset's images and captions, aspect buckets, and the latent and
text-embedding caches.

* ``collect_examples`` reads every dataset folder of the run config (captions, exclusions from
  ``.likeness/``, kohya repeats) and places each image in one bucket per resolution it is big
  enough for. An unreadable image is skipped with a ``warning`` event.
* Buckets have sides that are multiples of 16 and an area close to ``resolution**2``; the
  image is scaled to cover the bucket and centre-cropped.
* ``EpochPlan`` gives a deterministic batch order per epoch (from the seed and the epoch
  number), so a resumed run needs only the epoch and the position in it.
* ``LatentCache`` / ``TextCache`` compute VAE latents and text embeddings once and keep them on
  disk (keyed by image content hash + bucket + flip + VAE fingerprint, and by caption + text
  encoder fingerprint). With caching off they compute the same values on demand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.errors import DatasetInvalidError

if TYPE_CHECKING:
    import torch

    from training.config import RunConfig
    from training.events import EventSink

log = logging.getLogger(__name__)

BUCKET_STEP = 16
MAX_ASPECT = 4.0
MIN_AREA_FRACTION = 0.8  # an image trains at resolution R when its area >= 0.8 * R * R
MAX_TEXT_TOKENS = 512
CACHE_VERSION = "1"


@dataclass(frozen=True)
class Example:
    """One image at one resolution: what a batch is made of."""

    path: Path
    rel: str
    caption: str
    content_hash: str
    size: tuple[int, int]  # image (width, height)
    bucket: tuple[int, int]  # target (width, height)
    resolution: int
    repeats: int
    flip_x: bool  # whether flipped copies are allowed for this dataset


def bucket_for(width: int, height: int, resolution: int) -> tuple[int, int]:
    """The bucket (w, h) for an image: sides multiple of 16, area ~ resolution**2, closest aspect."""
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    area = float(resolution * resolution)
    ideal_w, ideal_h = math.sqrt(area * aspect), math.sqrt(area / aspect)
    best: tuple[float, tuple[int, int]] | None = None
    for bw in _around(ideal_w):
        for bh in _around(ideal_h):
            cost = abs(math.log((bw / bh) / aspect)) + 0.5 * abs(math.log(bw * bh / area))
            if best is None or cost < best[0]:
                best = (cost, (bw, bh))
    assert best is not None
    return best[1]


def _around(x: float) -> list[int]:
    low = max(BUCKET_STEP, int(x // BUCKET_STEP) * BUCKET_STEP)
    return [low, low + BUCKET_STEP]


def resolve_caption(text: str | None, trigger: str) -> str:
    """``[trigger]`` replaced, whitespace folded; the trigger is put first when it is missing
    (as ai-toolkit does); a missing caption becomes the trigger alone."""
    from training.config import with_trigger

    if text is None or not text.strip():
        return trigger
    return with_trigger(" ".join(text.split()), trigger)


def has_trigger(text: str | None, trigger: str) -> bool:
    import re

    if not text:
        return False
    text = text.replace("[trigger]", trigger)
    return re.search(rf"(?<![\w]){re.escape(trigger)}(?![\w])", text) is not None


def _excluded_checker(root: Path):
    """``rel -> bool`` from the dataset's Likeness state, without creating any state."""
    if not (root / ".likeness" / "state.sqlite").exists():
        return lambda rel: False
    try:
        from curation.workspace import Workspace

        ws = Workspace.open(root)
    except Exception as exc:  # noqa: BLE001 - a broken state must not stop training
        log.warning("cannot read exclusions in %s: %s", root, exc)
        return lambda rel: False
    excluded = {item.rel for item in ws.items if ws.is_excluded(item.rel)}
    ws.close()
    return lambda rel: rel in excluded


def collect_examples(cfg: RunConfig, sink: EventSink) -> list[Example]:
    """Every usable image of every dataset, once per resolution it trains at."""
    from curation.caption_io import CaptionReadError, read_caption
    from curation.dataset import DatasetError, scan_folder
    from curation.images import ImageLoadError, probe_image

    examples: list[Example] = []
    missing_captions = 0
    without_trigger = 0
    for ds in cfg.datasets:
        try:
            scan = scan_folder(ds.folder)
        except DatasetError as exc:
            raise DatasetInvalidError(f"dataset {ds.folder}: {exc}") from None
        for err in scan.errors:
            sink.warning(f"{err.path}: {err.error}", code="image_skipped", path=str(err.path))
        is_excluded = _excluded_checker(Path(scan.root))
        for item in scan.items:
            if is_excluded(item.rel):
                continue
            try:
                info = probe_image(item.path)
            except (ImageLoadError, OSError) as exc:
                sink.warning(
                    f"skipped {item.path}: {exc}", code="image_skipped", path=str(item.path)
                )
                continue
            text = None
            if item.has_caption:
                try:
                    text = read_caption(item.caption_path).text
                except (OSError, ValueError, CaptionReadError) as exc:  # FIFO, link loop, ...
                    sink.warning(f"{item.caption_path}: {exc}", code="caption_missing")
            if cfg.train.caption_source == "trigger_only":
                caption = cfg.trigger  # the caption files are not used
            else:
                if text is None or not text.strip():
                    missing_captions += 1
                elif not has_trigger(text, cfg.trigger):
                    without_trigger += 1
                caption = resolve_caption(text, cfg.trigger)
            repeats = ds.repeats if ds.repeats is not None else item.repeats
            fits = [
                r for r in ds.resolutions if info.width * info.height >= MIN_AREA_FRACTION * r * r
            ]
            if not fits:
                fits = [ds.resolutions[0]]
                sink.warning(
                    f"{item.path} is {info.width}x{info.height}, smaller than the lowest "
                    f"resolution {fits[0]}: it is upscaled (use images >= 1024 px)",
                    code="resolution_upscaled",
                    path=str(item.path),
                )
            for res in fits:
                examples.append(
                    Example(
                        path=item.path,
                        rel=item.rel,
                        caption=caption,
                        content_hash=info.content_hash,
                        size=(info.width, info.height),
                        bucket=bucket_for(info.width, info.height, res),
                        resolution=res,
                        repeats=max(1, repeats),
                        flip_x=ds.flip_x,
                    )
                )
    if without_trigger:
        sink.warning(
            f"{without_trigger} caption(s) do not contain the trigger '{cfg.trigger}': it is "
            f"put at the start for training (fix the captions so it is first everywhere)",
            code="caption_missing",
        )
    if missing_captions:
        sink.warning(
            f"{missing_captions} image(s) have no caption; they train with the trigger "
            f"'{cfg.trigger}' alone",
            code="caption_missing",
        )
    if not examples:
        folders = ", ".join(str(d.folder) for d in cfg.datasets)
        raise DatasetInvalidError(
            f"no usable image in {folders}: add images (png, jpg, webp) with .txt captions"
        )
    return examples


def dataset_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """``(field, message)`` for every dataset folder without a single usable image (what
    ``collect_examples`` would refuse at the start of the run)."""
    from training.events import ListSink

    problems: list[tuple[str, str]] = []
    for i, ds in enumerate(cfg.datasets):
        if not Path(ds.folder).is_dir():
            continue  # check_paths reports it
        sink = ListSink()
        try:
            collect_examples(cfg.model_copy(update={"datasets": [ds]}), sink)
        except DatasetInvalidError as exc:
            skipped = [e["message"] for e in sink.of("warning") if e["code"] == "image_skipped"]
            why = f" ({len(skipped)} skipped, e.g. {skipped[0]})" if skipped else ""
            problems.append((f"datasets[{i}].folder", f"{exc.message}{why}"))
    return problems


def dataset_hash(examples: list[Example]) -> str:
    """A short fingerprint of the images, captions and repeats (checkpoint metadata)."""
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: (e.rel, e.resolution)):
        h.update(f"{ex.content_hash}|{ex.caption}|{ex.repeats}|{ex.resolution}\n".encode())
    return h.hexdigest()[:16]


class EpochPlan:
    """Deterministic batches: same-bucket examples, shuffled from (seed, epoch)."""

    def __init__(self, examples: list[Example], batch_size: int, seed: int):
        self.examples = examples
        self.batch_size = batch_size
        self.seed = seed

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, ex in enumerate(self.examples):
            groups.setdefault(ex.bucket, []).extend([i] * ex.repeats)
        batches: list[list[int]] = []
        for bucket in sorted(groups):
            idx = groups[bucket]
            rng.shuffle(idx)
            batches += [idx[j : j + self.batch_size] for j in range(0, len(idx), self.batch_size)]
        rng.shuffle(batches)
        return batches


def load_pixels(ex: Example, flip: bool) -> torch.Tensor:
    """The image scaled to cover its bucket, centre-cropped, as a [3, H, W] tensor in [-1, 1]."""
    import numpy as np
    import torch
    from PIL import Image

    from curation.images import load_image

    im = load_image(ex.path).image
    bw, bh = ex.bucket
    scale = max(bw / im.width, bh / im.height)
    new = (max(bw, math.ceil(im.width * scale)), max(bh, math.ceil(im.height * scale)))
    im = im.resize(new, Image.Resampling.LANCZOS)
    left, top = (new[0] - bw) // 2, (new[1] - bh) // 2
    im = im.crop((left, top, left + bw, top + bh))
    if flip:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arr = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
    return arr.float().div(127.5).sub(1.0)


def module_fingerprint(module: Any, extra: str = "") -> str:
    """A cheap identity for a model: its config, parameter shapes and a few bytes of each."""
    h = hashlib.sha256(extra.encode())
    config = getattr(module, "config", None)
    if config is not None:
        as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        h.update(json.dumps(as_dict, sort_keys=True, default=str).encode())
    for name, p in module.state_dict().items():
        flat = p.detach().reshape(-1)[:256].float().cpu().numpy().tobytes()
        h.update(f"{name}{tuple(p.shape)}".encode())
        h.update(flat)
    return h.hexdigest()[:20]


class _DiskCache:
    def __init__(self, root: Path | None):
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> torch.Tensor | None:
        if self.root is None:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        from safetensors.torch import load_file

        try:
            return load_file(str(path))["value"]
        except Exception as exc:  # noqa: BLE001 - a corrupt cache entry is rebuilt
            log.warning("rebuilding cache entry %s: %s", path, exc)
            return None

    def put(self, key: str, value: torch.Tensor) -> None:
        if self.root is None:
            return
        from training.checkpoints import atomic_save_safetensors

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_safetensors({"value": value.detach().cpu().contiguous()}, path)


class LatentCache:
    """Normalised VAE latents per (image, bucket, flip), on disk or computed on demand."""

    def __init__(self, vae: Any, device: Any, root: Path | None):
        self.vae = vae
        self.device = device
        self.disk = _DiskCache(root)
        self.memory: dict[str, torch.Tensor] = {}
        cfg = vae.config
        self.scaling = float(cfg.scaling_factor)
        self.shift = float(cfg.shift_factor or 0.0)
        self.fingerprint = module_fingerprint(vae, "vae")

    def key(self, ex: Example, flip: bool) -> str:
        raw = f"{ex.content_hash}|{ex.bucket}|{int(flip)}|{self.fingerprint}|{CACHE_VERSION}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, ex: Example, flip: bool) -> torch.Tensor:
        key = self.key(ex, flip)
        if key in self.memory:
            return self.memory[key]
        value = self.disk.get(key)
        if value is None:
            value = self.encode(ex, flip)
            self.disk.put(key, value)
        return value

    def encode(self, ex: Example, flip: bool) -> torch.Tensor:
        import torch

        if self.vae is None:
            raise RuntimeError("latent cache: the VAE was freed before every latent was cached")
        pixels = load_pixels(ex, flip).unsqueeze(0)
        dtype = next(self.vae.parameters()).dtype
        with torch.no_grad():
            dist = self.vae.encode(pixels.to(self.device, dtype)).latent_dist
            latent = (dist.mode().float() - self.shift) * self.scaling
        return latent[0].cpu()

    def warm(self, examples: list[Example], flips: bool, sink: EventSink, keep: bool) -> list[int]:
        """Cache every latent; returns the indices of examples whose image could not be read."""
        from curation.images import ImageLoadError

        jobs = [
            (i, ex, f)
            for i, ex in enumerate(examples)
            for f in ((False, True) if flips and ex.flip_x else (False,))
        ]
        bad_paths: set[Path] = set()
        for n, (_, ex, flip) in enumerate(jobs, 1):
            if ex.path not in bad_paths:
                try:
                    value = self.get(ex, flip)
                    if keep:
                        self.memory[self.key(ex, flip)] = value
                except (ImageLoadError, OSError) as exc:
                    sink.warning(
                        f"skipped {ex.path}: {exc}", code="image_skipped", path=str(ex.path)
                    )
                    bad_paths.add(ex.path)
            sink.cache_progress("latents", n, len(jobs))
        bad = [i for i, ex in enumerate(examples) if ex.path in bad_paths]
        return bad


class TextCache:
    """Caption embeddings (second-to-last hidden layer, padding removed), as the pipeline does."""

    def __init__(self, text_encoder: Any, tokenizer: Any, device: Any, root: Path | None):
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.device = device
        self.disk = _DiskCache(root)
        self.memory: dict[str, torch.Tensor] = {}
        self.fingerprint = (
            module_fingerprint(text_encoder, "text") if text_encoder is not None else ""
        )

    def key(self, text: str) -> str:
        raw = f"{text}|{self.fingerprint}|{MAX_TEXT_TOKENS}|{CACHE_VERSION}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, text: str) -> torch.Tensor:
        key = self.key(text)
        if key in self.memory:
            return self.memory[key]
        value = self.disk.get(key)
        if value is None:
            value = self.encode([text])[0]
            self.disk.put(key, value)
        self.memory[key] = value
        return value

    def encode(self, texts: list[str]) -> list[torch.Tensor]:
        import torch

        if self.text_encoder is None:
            raise RuntimeError(
                "text cache: the text encoder was freed before every caption was cached"
            )
        prompts = [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": t}],
                tokenize=False,
                add_generation_prompt=True,
                enable_thinking=True,
            )
            for t in texts
        ]
        tokens = self.tokenizer(
            prompts,
            padding="longest",
            max_length=MAX_TEXT_TOKENS,
            truncation=True,
            return_tensors="pt",
        )
        ids = tokens.input_ids.to(self.device)
        mask = tokens.attention_mask.to(self.device).bool()
        with torch.no_grad():
            hidden = self.text_encoder(
                input_ids=ids, attention_mask=mask, output_hidden_states=True
            ).hidden_states[-2]
        return [hidden[i][mask[i]].cpu() for i in range(len(texts))]

    def warm(self, texts: list[str], sink: EventSink, batch: int = 8) -> None:
        unique = list(dict.fromkeys(texts))
        todo: list[str] = []
        for t in unique:
            value = self.disk.get(self.key(t))
            if value is None:
                todo.append(t)
            else:
                self.memory[self.key(t)] = value
        done = len(unique) - len(todo)
        sink.cache_progress("text", done, len(unique))
        for j in range(0, len(todo), batch):
            chunk = todo[j : j + batch]
            for text, value in zip(chunk, self.encode(chunk), strict=True):
                self.disk.put(self.key(text), value)
                self.memory[self.key(text)] = value
            done += len(chunk)
            sink.cache_progress("text", done, len(unique))


def cache_root(kind: str) -> Path:
    from curation.paths import cache_dir

    return cache_dir() / "training" / kind
