"""Florence-2 captioner on the native transformers classes (no remote code).

``Florence2ForConditionalGeneration`` + ``Florence2Processor`` from transformers >= 5, with
``florence-community/Florence-2-base`` / ``-large`` (downloaded on first use into the HF
cache) or a local folder. CUDA runs in bf16 (fp16 where bf16 is missing), CPU in fp32.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.captioners.base import OD_TASK, TASKS, CaptionerError, CaptionOutput
from curation.captioners.download import resolve_model
from curation.jobs import CancelToken, ItemResult, ProgressFn, report

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: the processor resizes to 768x768; decoding JPEGs at a reduced scale first saves time
_DRAFT = (768, 768)


def pick_device(device: str = "auto") -> str:
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CaptionerError("CUDA was asked for but no CUDA GPU is available: use --device cpu")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise CaptionerError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def pick_dtype(device: str) -> torch.dtype:
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class Florence2Captioner:
    """Florence-2 (base or large) behind the :class:`~curation.captioners.base.Captioner` API."""

    name = "florence2"
    max_new_tokens = 256
    num_beams = 3

    def __init__(
        self,
        model: str = "base",
        *,
        device: str = "auto",
        max_new_tokens: int | None = None,
        num_beams: int | None = None,
        allow_download: bool = True,
    ) -> None:
        self.model_spec = model
        self.device_request = device
        self.allow_download = allow_download
        if max_new_tokens is not None:
            self.max_new_tokens = max_new_tokens
        if num_beams is not None:
            self.num_beams = num_beams
        self.device: str | None = None
        self.dtype: Any = None
        self.folder: Path | None = None
        self._model: Any = None
        self._processor: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(
        self, on_progress: ProgressFn | None = None, cancel: CancelToken | None = None
    ) -> None:
        if self.loaded:
            return
        folder = resolve_model(
            self.model_spec,
            on_progress=on_progress,
            cancel=cancel,
            allow_download=self.allow_download,
        )
        from transformers import AutoProcessor, Florence2ForConditionalGeneration

        device = pick_device(self.device_request)
        dtype = pick_dtype(device)
        report(on_progress, 0, 1, f"loading Florence-2 from {folder}")
        try:
            processor = AutoProcessor.from_pretrained(folder)
            model = Florence2ForConditionalGeneration.from_pretrained(folder, dtype=dtype)
        except Exception as exc:
            hint = ""
            if (folder / "configuration_florence2.py").is_file():
                hint = (
                    " This folder is the original remote-code checkpoint; use the converted "
                    "florence-community/Florence-2-base or -large instead."
                )
            raise CaptionerError(f"cannot load Florence-2 from {folder}: {exc}.{hint}") from exc
        model.to(device).eval()  # pyright: ignore[reportArgumentType] (transformers' stubs)
        self._model, self._processor = model, processor
        self.device, self.dtype, self.folder = device, dtype, folder
        report(on_progress, 1, 1, "Florence-2 loaded")
        log.info("Florence-2 loaded from %s on %s (%s)", folder, device, dtype)

    def unload(self) -> None:
        """Drop the model and give its memory back (CPU and GPU)."""
        was_cuda = bool(self.device and self.device.startswith("cuda"))
        self._model = None
        self._processor = None
        gc.collect()
        if was_cuda:
            import torch

            torch.cuda.empty_cache()

    # ----- inference -----------------------------------------------------------------------
    def _generate(self, images: list, task: str, sizes: list[tuple[int, int]]) -> list:
        import torch

        proc, model = self._processor, self._model
        inputs = proc(text=[task] * len(images), images=images, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                do_sample=False,
            )
        texts = proc.batch_decode(out, skip_special_tokens=False)
        return [
            proc.post_process_generation(t, task=task, image_size=size)[task]
            for t, size in zip(texts, sizes, strict=True)
        ]

    def _run_batch(self, images: list, task: str, sizes: list) -> list[tuple[Any, str | None]]:
        """Outputs per image; when the batch fails, each image is retried alone."""
        try:
            return [(o, None) for o in self._generate(images, task, sizes)]
        except Exception as exc:  # noqa: BLE001 - isolate the failing image
            if len(images) == 1:
                return [(None, f"{task} failed: {exc}")]
            log.warning("batch of %d failed (%s); retrying one by one", len(images), exc)
            return [
                self._run_batch([im], task, [sz])[0] for im, sz in zip(images, sizes, strict=True)
            ]

    def caption(
        self,
        images: Sequence[Path],
        task: str = "<MORE_DETAILED_CAPTION>",
        *,
        detect_objects: bool = False,
        batch_size: int = 8,
        on_progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> list[ItemResult]:
        if task not in TASKS:
            raise CaptionerError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
        if not self.loaded:
            self.load(cancel=cancel)
        from curation.images import ImageLoadError, load_image

        paths = [Path(p) for p in images]
        results: list[ItemResult] = [ItemResult(str(p)) for p in paths]
        total, done = len(paths), 0
        batch_size = max(1, int(batch_size))
        report(on_progress, 0, total, f"captioning {total} images")
        for start in range(0, total, batch_size):
            if cancel is not None and cancel.cancelled:
                for r in results[start:]:
                    r.error = "cancelled"
                break
            idx, pil, sizes = [], [], []
            for i in range(start, min(total, start + batch_size)):
                try:
                    loaded = load_image(paths[i], draft=_DRAFT)
                    idx.append(i)
                    pil.append(loaded.image)
                    sizes.append((loaded.info.width, loaded.info.height))
                except (ImageLoadError, OSError) as exc:
                    results[i].error = str(exc)
            if pil:
                caps = self._run_batch(pil, task, sizes)
                ods = self._run_batch(pil, OD_TASK, sizes) if detect_objects else None
                for k, i in enumerate(idx):
                    text, err = caps[k]
                    if err:
                        results[i].error = err
                        continue
                    out = CaptionOutput(str(text).strip(), task, model=str(self.model_spec))
                    if ods is not None and ods[k][1] is None and isinstance(ods[k][0], dict):
                        out.objects = [str(x) for x in ods[k][0].get("labels", [])]
                        out.boxes = [list(map(float, b)) for b in ods[k][0].get("bboxes", [])]
                    results[i].value = out
            done = min(total, start + batch_size)
            report(on_progress, done, total, f"captioned {done}/{total}")
        return results
