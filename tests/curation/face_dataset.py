"""Build small test datasets from the shared real photos (copies live in tmp_path only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def crop_obama3(src: Path, kind: str) -> Image.Image:
    """A medium shot or a close-up cut out of the full-body obama3.jpg (face at ~y 240-600)."""
    im = Image.open(src)
    if kind == "medium":  # head to waist: face ~0.28 of the height
        return im.crop((300, 120, 1250, 1450))
    if kind == "close-up":  # head and shoulders: face ~0.5 of the height
        return im.crop((520, 160, 1060, 860))
    raise ValueError(kind)


def exif_rotated(src: Path, dest: Path) -> None:
    """Pixels stored rotated 90 degrees with EXIF orientation 6, so viewers show it upright."""
    im = Image.open(src).convert("RGB")
    stored = im.transpose(Image.Transpose.ROTATE_90)  # orientation 6 undoes this
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(dest, "JPEG", quality=92, exif=exif.tobytes())


def cmyk(src: Path, dest: Path) -> None:
    Image.open(src).convert("CMYK").save(dest, "JPEG", quality=92)


def sixteen_bit(src: Path, dest: Path) -> None:
    grey = np.asarray(Image.open(src).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(dest)  # mode I;16 PNG
    assert Image.open(dest).mode in ("I;16", "I")


def make_dataset(faces_dir: Path, root: Path, variants: bool = True) -> Path:
    fr, sk = faces_dir / "face_recognition", faces_dir / "scikit-image"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "two_people.jpg"):
        shutil.copy(fr / name, root / name)
    for name in ("camera.png", "chelsea.png", "astronaut.png"):
        shutil.copy(sk / name, root / name)
    if variants:
        crop_obama3(fr / "obama3.jpg", "medium").save(root / "obama3_medium.jpg", quality=92)
        crop_obama3(fr / "obama3.jpg", "close-up").save(root / "obama3_closeup.jpg", quality=92)
        exif_rotated(fr / "obama.jpg", root / "obama_exif6.jpg")
        cmyk(fr / "obama2.jpg", root / "obama2_cmyk.jpg")
        sixteen_bit(sk / "astronaut.png", root / "astronaut_16bit.png")
        (root / "broken.jpg").write_bytes((fr / "obama.jpg").read_bytes()[:3000])
        (root / "notes.png").write_text("not an image")
    return root
