"""Faces GUI timings: folder open -> balance verdict on screen, first run and cached, and how
long the GUI event loop ever stalls meanwhile (a 10 ms timer's largest gap).

Usage: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/faces_gui.py [--images 30] [--runs 3]

The dataset is made in a temp folder from the shared photos (1024 px JPEGs: resized, cropped
and mirrored variants), so it needs ../shared/data/faces and the YuNet model in
../shared/models.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LIKENESS_SHARED", ROOT.parent / "shared"))


def make_set(folder: Path, n: int) -> Path:
    from PIL import Image, ImageOps

    sources = sorted((SHARED / "data" / "faces").rglob("*.jpg")) + sorted(
        (SHARED / "data" / "faces").rglob("*.png")
    )
    folder.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        im = Image.open(src).convert("RGB")
        w, h = im.size
        k = i // len(sources)
        if k % 2:
            im = ImageOps.mirror(im)
        if k >= 2:  # a different crop so the hashes differ
            im = im.crop((w // 12 * (k - 1), 0, w, h - h // 14 * (k - 1)))
        im = ImageOps.pad(im, (1024, 1024), color=(30 + 7 * i % 200, 40, 50))
        im.save(folder / f"img_{i:03d}.jpg", quality=90)
    return folder


def run_once(folder: Path) -> tuple[float, float]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from desktop.app import create_app
    from desktop.main_window import MainWindow

    app = create_app()
    win = MainWindow()
    win.resize(1400, 880)
    win.show()
    done: list[float] = []
    clock = QElapsedTimer()
    gaps = [0.0]
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps[0] = max(gaps[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    win.faces.controller.finished.connect(lambda *_: done.append(clock.elapsed() / 1000))
    clock.start()
    timer.start()
    win.open_folder(str(folder))
    while not done and clock.elapsed() < 300_000:
        # Sleeps until the next event (the 10 ms timer at the latest), like app.exec(); a
        # polling loop here would spin the GUI thread at full speed and starve the analysis,
        # which runs niced (its worker processes too).
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    timer.stop()
    win.close()
    win.deleteLater()
    app.processEvents()
    return done[0], gaps[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("LIKENESS_MODEL_DIR", str(SHARED / "models"))
    first, cached, gap_first, gap_cached = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LIKENESS_CONFIG_DIR"] = str(Path(tmp) / "config")
            os.environ["LIKENESS_CACHE_DIR"] = str(Path(tmp) / "cache")
            folder = make_set(Path(tmp) / "set", args.images)
            t, g = run_once(folder)
            first.append(t)
            gap_first.append(g)
            t, g = run_once(folder)
            cached.append(t)
            gap_cached.append(g)
    med = statistics.median
    print(f"{args.images} images of 1024x1024, {args.runs} runs (medians)")
    print(f"open -> verdict, first analysis: {med(first):.2f} s  (runs: "
          + ", ".join(f"{v:.2f}" for v in first) + ")")  # fmt: skip
    print(f"open -> verdict, cached:         {med(cached):.2f} s  (runs: "
          + ", ".join(f"{v:.2f}" for v in cached) + ")")  # fmt: skip
    print(
        f"largest GUI stall, first: {med(gap_first) * 1000:.0f} ms, cached: "
        f"{med(gap_cached) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
