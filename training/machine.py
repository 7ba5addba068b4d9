"""What this machine offers a new run, found without importing torch.

* ``detect_gpu``: the GPU and its memory from ``nvidia-smi`` (a short child process), so the
  GUI process never imports torch; None when there is none.
* ``preset_for_vram``: the VRAM preset (8 / 12 / 16 / 24 GB) that fits.
* ``suggest_steps``: ~10 x images x repeats, within 1500-3000 (``domain.md``).
* ``find_models``: Z-Image-Turbo in the Hugging Face cache and in a ComfyUI folder, with what
  to download and where when a part is missing.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

NO_GPU_MESSAGE = "no GPU: training runs on the CPU and will be very slow"


@dataclass(frozen=True)
class Gpu:
    name: str
    vram_gb: float

    def describe(self) -> str:
        return f"{self.name} ({self.vram_gb:.0f} GB)"


def detect_gpu(timeout: float = 5.0, nvidia_smi: str | None = None) -> Gpu | None:
    """The first NVIDIA GPU (``nvidia-smi``), or None when there is none or it cannot say."""
    exe = nvidia_smi or shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("nvidia-smi did not answer: %s", exc)
        return None
    for line in out.stdout.splitlines():
        name, _, mem = line.rpartition(",")
        try:
            return Gpu(name.strip(), float(mem) / 1024.0)
        except ValueError:
            continue
    return None


def preset_for_vram(vram_gb: float | None) -> str:
    """The preset name for a card of ``vram_gb`` (None, no GPU: the lightest, 8gb)."""
    if vram_gb is None:
        return "8gb"
    for limit, name in ((22.0, "24gb"), (15.0, "16gb"), (11.0, "12gb")):
        if vram_gb >= limit:
            return name
    return "8gb"


def suggest_repeats(images: int) -> int:
    """domain.md: 10-12 repeats for 10-20 images, <= 8 for 50+."""
    if images <= 20:
        return 10
    if images < 50:
        return 8
    return 4


def suggest_steps(images: int, repeats: int = 1) -> int:
    """~10 x dataset size x repeats, rounded to 100, kept within 1500-3000."""
    raw = 10 * max(images, 1) * max(repeats, 1)
    return int(min(3000, max(1500, round(raw / 100) * 100)))


# ComfyUI's folders (new and old names) and the usual file names of each part
COMFY_PARTS = {
    "transformer": (("diffusion_models", "unet"), ("z_image_turbo_bf16.safetensors",)),
    "text_encoder": (("text_encoders", "clip"), ("qwen_3_4b.safetensors",)),
    "vae": (("vae",), ("ae.safetensors", "z_image_vae.safetensors")),
}
HF_REPO = "Tongyi-MAI/Z-Image-Turbo"


@dataclass
class ModelSearch:
    hub_snapshot: Path | None = None  # a complete diffusers snapshot in the HF cache
    comfy: dict[str, Path] = field(default_factory=dict)  # part -> file
    missing: list[str] = field(default_factory=list)  # what to download, and where

    @property
    def comfy_complete(self) -> bool:
        return "transformer" in self.comfy


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(Path.home(), ".cache", "huggingface")
    return Path(home) / "hub"


def _hub_snapshot(cache: Path, repo: str) -> Path | None:
    snaps = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    try:
        found = [s for s in snaps.iterdir() if (s / "model_index.json").is_file()]
    except OSError:
        return None
    return max(found, key=lambda s: s.stat().st_mtime) if found else None


def find_models(comfy_root: Path | None = None, hf_cache: Path | None = None) -> ModelSearch:
    """Look for Z-Image-Turbo in the HF cache and in ``comfy_root/models``."""
    result = ModelSearch(hub_snapshot=_hub_snapshot(hf_cache or hf_cache_dir(), HF_REPO))
    if comfy_root is not None:
        models = Path(comfy_root) / "models"
        for part, (folders, names) in COMFY_PARTS.items():
            for folder in folders:
                hit = next(
                    (models / folder / n for n in names if (models / folder / n).is_file()),
                    None,
                )
                if hit is not None:
                    result.comfy[part] = hit
                    break
            else:
                result.missing.append(
                    f"{part}: put {names[0]} into {models / folders[0]}"
                    " (from Comfy-Org/z_image_turbo on Hugging Face)"
                )
    if result.hub_snapshot is None and not result.comfy_complete:
        result.missing.insert(
            0,
            f"the model: download {HF_REPO} (huggingface-cli download {HF_REPO}) into "
            f"{hf_cache or hf_cache_dir()}, or set your ComfyUI folder",
        )
    return result
