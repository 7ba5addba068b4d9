"""Benchmark: open a 10,000-image dataset in the desktop app.

Measures, in one process and against the same files:
  - cold start to a shown window (a fresh ``likeness gui`` process, median of several),
  - time from "open folder" to the first painted grid and to the visible thumbnails,
  - time until every thumbnail is in the disk cache, as thumbnails/s, against bare PIL
    draft-mode decoding of the same files with the same number of threads,
  - the longest GUI event-loop stall while the cache fills (smoothness),
  - peak RSS of the process.

Usage:
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/open_large_dataset.py [DIR]
        [--count 10000] [--runs 3] [--json out.json]

The images (1024x1024 JPEGs) are generated once into DIR/images (default: the temp dir's
``likeness-bench``) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def generate(folder: Path, count: int) -> None:
    from synthetic import make_dataset

    have = len(list(folder.glob("img_*.jpg"))) if folder.exists() else 0
    if have >= count:
        return
    print(f"generating {count - have} images into {folder} (once) ...", flush=True)
    t = time.perf_counter()
    make_dataset(folder, count)
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def warm_page_cache(files: list[Path]) -> None:
    for f in files:
        f.read_bytes()


def bare_decode(files: list[Path], threads: int, bucket: int = 256) -> tuple[float, float]:
    """Thumbnails/s and CPU s per image of plain PIL: open, draft, load, thumbnail (no
    hashing, no cache, no GUI)."""
    from PIL import Image

    def one(path: Path) -> None:
        with Image.open(path) as im:
            im.draft("RGB", (bucket, bucket))
            im.load()
            im.thumbnail((bucket, bucket))

    t, cpu = time.perf_counter(), _cpu()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files, chunksize=16))
    return len(files) / (time.perf_counter() - t), (_cpu() - cpu) / len(files)


def _cpu() -> float:
    """CPU seconds of this process (all threads): robust to other load on the machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cold_start(runs: int, home: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``python -m desktop gui`` until its window was shown.

    CPU time (user + sys of the child) is reported too: on a shared machine the wall time
    mostly measures the other processes.
    """
    env = dict(os.environ, LIKENESS_QUIT_AFTER_SHOW="1", QT_QPA_PLATFORM="offscreen")
    for key, sub in (
        ("LIKENESS_CONFIG_DIR", "c"),
        ("LIKENESS_CACHE_DIR", "k"),
        ("LIKENESS_LOG_DIR", "l"),
    ):
        env[key] = str(home / sub)
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "desktop", "gui"],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def _disable_panels() -> None:
    """Shell only: skip the analysis panels that start their own work on open."""
    import importlib

    for name in ("desktop.panels.faces", "desktop.panels.captions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.install = lambda window: None


def gui_run(folder: Path, home: Path, fresh_state: bool) -> dict:
    """Open ``folder`` in a shown MainWindow with an empty thumbnail cache; time it."""
    os.environ["LIKENESS_CACHE_DIR"] = str(home / "cache")
    os.environ["LIKENESS_CONFIG_DIR"] = str(home / "config")
    os.environ["LIKENESS_LOG_DIR"] = str(home / "logs")
    shutil.rmtree(home / "cache", ignore_errors=True)
    if fresh_state:
        shutil.rmtree(folder / ".likeness", ignore_errors=True)
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from desktop.app import create_app
    from desktop.main_window import MainWindow

    app = create_app()
    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    grid, model, loader = win.browser.grid, win.browser.model, win.loader
    out: dict = {}
    clock = QElapsedTimer()
    loop = QEventLoop()
    stall = {"max": 0.0, "last": time.perf_counter(), "on": False}

    def tick() -> None:
        now = time.perf_counter()
        if stall["on"]:
            stall["max"] = max(stall["max"], now - stall["last"])
        stall["last"] = now

    ticker = QTimer()
    ticker.setInterval(10)
    ticker.timeout.connect(tick)
    ticker.start()

    def first_paint() -> None:
        out["first_paint_s"] = clock.elapsed() / 1000
        stall["cpu0"] = _cpu()
        stall["on"] = True
        stall["last"] = time.perf_counter()

    def visible_done() -> bool:
        rows = [
            grid.proxy.mapToSource(grid.proxy.index(r, 0)).row()
            for r in grid.visible_proxy_rows(ahead_screens=0)
        ]
        return bool(rows) and all(model.has_pixmap(model.rows[r].rel) for r in rows)

    def poll() -> None:
        if "first_paint_s" in out and "visible_s" not in out and visible_done():
            out["visible_s"] = clock.elapsed() / 1000

    def progress(_gen: int, done: int, total: int) -> None:
        if done >= total and total == model.rowCount():
            out["all_cached_s"] = clock.elapsed() / 1000
            out["cache_cpu_ms"] = (_cpu() - stall["cpu0"]) / total * 1000
            loop.quit()

    grid.first_paint.connect(first_paint)
    poller = QTimer()
    poller.setInterval(5)
    poller.timeout.connect(poll)
    poller.start()
    loader.background_progress.connect(progress)
    clock.start()
    win.open_folder(str(folder))
    QTimer.singleShot(900_000, loop.quit)
    loop.exec()
    out["images"] = model.rowCount()
    out["cache_rate"] = out["images"] / (out["all_cached_s"] - out["first_paint_s"])
    out["max_stall_ms"] = stall["max"] * 1000
    # scroll to the end: the warm cache answers
    t = time.perf_counter()
    grid.scrollToBottom()
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if visible_done():
            break
    out["scroll_end_visible_s"] = time.perf_counter() - t
    ticker.stop()
    poller.stop()
    win.close()
    win.deleteLater()
    app.processEvents()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default=str(Path(tempfile.gettempdir()) / "likeness-bench"))
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument(
        "--with-panels",
        action="store_true",
        help="keep the analysis panels (face analysis competes for the CPU)",
    )
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = Path(args.dir) / "images"
    generate(folder, args.count)
    files = sorted(folder.glob("img_*.jpg"))[: args.count]
    if len(files) < args.count:
        print(f"only {len(files)} images in {folder}", file=sys.stderr)
        return 2
    threads = max(2, os.cpu_count() or 2)
    home = Path(tempfile.mkdtemp(prefix="likeness-bench-home-"))
    print(f"{len(files)} images, {threads} decoding threads, {os.cpu_count()} CPUs", flush=True)
    if not args.with_panels:
        _disable_panels()
    warm_page_cache(files)
    wall, cpu = cold_start(max(3, args.runs), home / "cold")
    results = {"cold_start_s": wall, "cold_start_cpu_s": cpu, "runs": []}
    print(
        f"cold start: wall {[round(t, 2) for t in wall]}, cpu {[round(t, 2) for t in cpu]}",
        flush=True,
    )
    for i in range(args.runs):
        bare, bare_cpu = bare_decode(files, threads)
        run = gui_run(folder, home / f"run{i}", fresh_state=(i == 0))
        run["bare_rate"] = bare
        run["ratio"] = run["cache_rate"] / bare
        run["bare_cpu_ms"] = bare_cpu * 1000
        run["cpu_ratio"] = run["bare_cpu_ms"] / run["cache_cpu_ms"]
        results["runs"].append(run)
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}),
            flush=True,
        )
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = {
        k: statistics.median(r[k] for r in results["runs"])
        for k in results["runs"][0]
        if isinstance(results["runs"][0][k], float)
    }
    med["cold_start_s"] = statistics.median(results["cold_start_s"])
    med["cold_start_cpu_s"] = statistics.median(results["cold_start_cpu_s"])
    load = os.getloadavg()
    results["loadavg"] = load
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    med["peak_rss_mb"] = results["peak_rss_mb"]
    results["median"] = med
    print("\nmedians:")
    for k, v in med.items():
        print(f"  {k:22s} {v:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
