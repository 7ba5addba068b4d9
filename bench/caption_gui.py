"""Benchmark: the caption panels' lint in the GUI (offscreen) on a synthetic dataset.

Opens N tiny images with varied captions (some break rules) in a real ``MainWindow``, stops
the face analysis (it would share the CPU), then measures, medians of ``--repeats``:

* ``full``: a dataset re-lint with a warm per-caption cache (settings unchanged);
* ``after_edit``: the re-lint after one caption changed (what every save triggers; it runs
  off the GUI thread);
* ``gui_share``: the GUI-thread part of applying a report (Lint dock, badges, editor);
* ``live``: the editor's as-you-type lint of one caption (GUI thread, per keystroke pause).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/caption_gui.py --n 5000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MOODS = ["smiling", "laughing", "neutral expression", "serious", "sad", "looking up"]
OUTFITS = ["a red raincoat", "a white linen shirt", "a yellow sundress", "a grey hoodie"]
PLACES = ["city street at night", "white studio background", "sunny beach", "forest path"]
EXTRA = ["", ", blue eyes", ", freckles", ", casual outfit", ""]


def make_dataset(folder: Path, n: int) -> None:
    from PIL import Image

    rng = random.Random(0)
    folder.mkdir(parents=True)
    img = Image.new("RGB", (64, 64), (120, 80, 60))
    for i in range(n):
        img.save(folder / f"img_{i:05d}.jpg", quality=70)
        caption = (
            f"a photo of l3yla, {rng.choice(MOODS)}, wearing {rng.choice(OUTFITS)}, "
            f"{rng.choice(PLACES)}{rng.choice(EXTRA)}"
        )
        (folder / f"img_{i:05d}.txt").write_text(caption, "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "10_l3yla"
        make_dataset(folder, args.n)
        win = MainWindow()
        win.open_folder(str(folder), wait=True)
        faces = getattr(win, "faces", None)
        if faces is not None:
            faces.controller.cancel()
        feature = win.captions
        ctrl = feature.controller
        t0 = time.perf_counter()
        ctrl.relint_now(wait=True)
        cold = time.perf_counter() - t0
        full, after_edit, gui_share, live = [], [], [], []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            ctrl.relint_now(wait=True)
            full.append(time.perf_counter() - t0)
            rel = f"img_{i:05d}.jpg"
            win.session.workspace.set_caption(rel, win.session.caption(rel) + ", freckles")
            t0 = time.perf_counter()
            ctrl.relint_now(wait=True)
            after_edit.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ctrl.report_changed.emit(ctrl.report)
            gui_share.append(time.perf_counter() - t0)
        for _ in range(100):
            t0 = time.perf_counter()
            feature.highlighter.relint()
            live.append(time.perf_counter() - t0)
        med = statistics.median
        print(
            json.dumps(
                {
                    "n": args.n,
                    "marks": len(ctrl.report.all_issues()),
                    "cold_s": round(cold, 3),
                    "full_s": round(med(full), 3),
                    "after_edit_s": round(med(after_edit), 3),
                    "gui_share_ms": round(med(gui_share) * 1000, 1),
                    "live_ms": round(med(live) * 1000, 2),
                }
            )
        )
        win.close()


if __name__ == "__main__":
    main()
