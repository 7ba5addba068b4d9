"""Image-text similarity (CLIP or SigLIP through transformers) for prompt obedience.

The user names the model (a Hugging Face id or a local folder); it is read from the Hugging
Face cache, downloaded on first use when online, like Florence-2. Only safetensors weights
are loaded (``use_safetensors=True``), never remote code. Any failure to load is a
`ClipUnavailable` with the reason, and the ranking goes on without prompt obedience.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_CACHE: dict[str, ClipScorer] = {}
_LOCK = threading.Lock()


class ClipUnavailable(Exception):
    """The image-text model cannot be used here; ``str(exc)`` says why."""


def strip_trigger(text: str, trigger: str) -> str:
    """The prompt without the trigger token (the model does not know it): ``a photo of t0ken,
    smiling`` -> ``a photo of smiling``-like text, commas and spaces tidied."""
    if trigger:
        text = re.sub(rf"(?<![\w]){re.escape(trigger)}(?![\w])", " ", text)
    text = re.sub(r"\s+([,.;])", r"\1", re.sub(r"\s+", " ", text))
    return re.sub(r"^[\s,]+|[\s,]+$", "", re.sub(r",\s*,", ",", text))


def _vector(out: Any) -> Any:
    """transformers 4 returns a tensor, 5 an output object with ``pooler_output``."""
    if hasattr(out, "pooler_output") and not hasattr(out, "shape"):
        out = out.pooler_output
    return out


class ClipScorer:
    """One loaded model; ``images`` / ``texts`` -> L2-normalised embeddings (numpy)."""

    def __init__(self, name: str, model: Any, processor: Any):
        self.name = name
        self.model = model
        self.processor = processor
        self.lock = threading.Lock()
        text_config = getattr(model.config, "text_config", None)
        self.max_tokens = int(getattr(text_config, "max_position_embeddings", 77) or 77)

    def images(self, images: list[Any]) -> np.ndarray:
        import torch

        with self.lock, torch.no_grad():
            inputs = self.processor(images=images, return_tensors="pt")
            feats = _vector(self.model.get_image_features(pixel_values=inputs["pixel_values"]))
        return _normalise(feats.float().numpy())

    def texts(self, texts: list[str]) -> np.ndarray:
        import torch

        with self.lock, torch.no_grad():
            inputs = self.processor(
                text=texts,
                return_tensors="pt",
                padding="max_length",  # SigLIP was trained on max-length padding
                max_length=self.max_tokens,
                truncation=True,
            )
            kwargs = {"input_ids": inputs["input_ids"]}
            if "attention_mask" in inputs:
                kwargs["attention_mask"] = inputs["attention_mask"]
            feats = _vector(self.model.get_text_features(**kwargs))
        return _normalise(feats.float().numpy())


def _normalise(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norm > 0, norm, 1.0)


def get_clip(name: str) -> ClipScorer:
    """The process's scorer for ``name``; raises `ClipUnavailable` with the reason."""
    with _LOCK:
        if name in _CACHE:
            return _CACHE[name]
        try:
            from transformers import AutoModel, AutoProcessor

            model = AutoModel.from_pretrained(name, use_safetensors=True).eval()
            processor = AutoProcessor.from_pretrained(name)
        except Exception as exc:  # noqa: BLE001 - OSError, ValueError, hub errors ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ClipUnavailable(
                f"the image-text model {name} cannot be loaded ({first}); download it once "
                "while online, or choose a local CLIP / SigLIP folder"
            ) from exc
        if not hasattr(model, "get_image_features") or not hasattr(model, "get_text_features"):
            raise ClipUnavailable(f"{name} is not a CLIP / SigLIP model (no image-text features)")
        scorer = ClipScorer(name, model, processor)
        _CACHE[name] = scorer
        return scorer
