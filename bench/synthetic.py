"""Colourful synthetic images and captions for benchmarks and screenshots (no real people)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUTFITS = [
    "red raincoat",
    "navy blue pantsuit",
    "white linen shirt",
    "green knit sweater",
    "black leather jacket",
    "yellow sundress",
    "grey hoodie",
    "denim jacket",
]
SHOTS = ["a close-up photo", "a medium shot photo", "a full body photo", "a profile photo"]
PLACES = [
    "white studio background",
    "city street at night",
    "sunny beach",
    "forest path",
    "cosy cafe interior",
    "rooftop at sunset",
    "library shelves",
    "snowy park",
]
EXPRESSIONS = ["smiling", "neutral serious expression", "laughing", "looking away, calm"]


def synthetic_image(seed: int, size: int = 1024) -> Image.Image:
    """A gradient with soft shapes: cheap to make, different for every seed, JPEG-realistic."""
    rng = random.Random(seed)
    small = 64
    yy, xx = np.mgrid[0:small, 0:small].astype(np.float32) / small
    c1 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    c2 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    angle = rng.random()
    t = (xx * angle + yy * (1 - angle))[..., None]
    base = (c1 * (1 - t) + c2 * t).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(base, "RGB").resize((size, size), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randint(-size // 4, size), rng.randint(-size // 4, size)
        w, h = rng.randint(size // 8, size // 2), rng.randint(size // 8, size // 2)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=fill)
        else:
            draw.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=size // 32, fill=fill)
    img = img.filter(ImageFilter.GaussianBlur(2))
    noise = np.random.default_rng(seed).integers(-12, 12, (size, size, 3), dtype=np.int16)
    arr = (np.asarray(img, np.int16) + noise).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def synthetic_caption(seed: int, trigger: str = "l3yla") -> str:
    rng = random.Random(seed * 7919)
    return (
        f"{rng.choice(SHOTS)} of {trigger}, {rng.choice(EXPRESSIONS)}, wearing a "
        f"{rng.choice(OUTFITS)}, {rng.choice(PLACES)}"
    )


def make_dataset(
    folder: Path,
    count: int,
    size: int = 1024,
    caption_ratio: float = 0.7,
    quality: int = 88,
    start: int = 0,
) -> int:
    """Write ``count`` JPEGs (+ captions for ``caption_ratio`` of them); skips existing files.

    Returns how many images were newly written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for i in range(start, start + count):
        path = folder / f"img_{i:05d}.jpg"
        if not path.exists():
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
            synthetic_image(i, size).save(tmp, "JPEG", quality=quality)
            tmp.rename(path)
            written += 1
        cap = path.with_suffix(".txt")
        if random.Random(i).random() < caption_ratio and not cap.exists():
            cap.write_text(synthetic_caption(i), encoding="utf-8")
    return written
