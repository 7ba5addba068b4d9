"""Shared fixtures and helpers for the GUI tests (imported by the other test_gui_* files)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

CAPTIONS = [
    "a close-up photo of l3yla, smiling, wearing a red raincoat, city street at night",
    "a medium shot photo of l3yla, neutral serious expression, wearing a white linen shirt, "
    "white studio background",
    "a full body photo of l3yla, laughing, wearing a yellow sundress, sunny beach",
    "a profile photo of l3yla, looking away, calm, wearing a grey hoodie, forest path",
]


def make_image(path: Path, seed: int, size: tuple[int, int] = (320, 240)) -> None:
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randint(40, 220) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = rng.randint(0, size[0]), rng.randint(0, size[1])
        r = rng.randint(20, 80)
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    img.save(path, "JPEG", quality=90)


def make_dataset(folder: Path, n: int = 8, captions: int = 6, corrupt: bool = True) -> Path:
    """``n`` small JPEGs, the first ``captions`` with a caption, plus a truncated JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        make_image(folder / f"img_{i:02d}.jpg", i)
        if i < captions:
            (folder / f"img_{i:02d}.txt").write_text(CAPTIONS[i % len(CAPTIONS)], "utf-8")
    if corrupt:
        good = folder / "img_00.jpg"
        (folder / "zz_broken.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    return folder


@pytest.fixture
def dataset(tmp_path) -> Path:
    return make_dataset(tmp_path / "10_l3yla")


@pytest.fixture
def window(qtbot):
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def open_and_wait(qtbot, win, folder: Path, thumbs: bool = True) -> None:
    """Open ``folder`` the way the GUI does (in the background) and wait for the tiles."""
    with qtbot.waitSignal(win.session.opened, timeout=15000):
        win.open_folder(str(folder))
    if thumbs:
        model = win.browser.model

        def all_tiles_done() -> bool:
            return all(model.has_pixmap(r.rel) or r.error for r in model.rows)

        qtbot.waitUntil(all_tiles_done, timeout=20000)
