"""Benchmark: open a 10,000-image dataset in the desktop app.

Measures, in one process and against the same files:
  - cold start to a shown window (a fresh ``likeness gui`` process, median of several),
  - time from "open folder" to the first painted grid and to the visible thumbnails,
  - time until every thumbnail is in the disk cache, as thumbnails/s, against bare PIL
    draft-mode decoding of the same files with the same number of threads,
  - the longest GUI event-loop stall while the cache fills (smoothness),
  - peak RSS of the process.

The bare decode runs before *and* after each app run (the ratio uses their mean, so a load
that changes during the run hits both sides alike). Beside every figure it prints the load
average and the CPU that *other* processes used meanwhile (machine busy time from
/proc/stat minus this process's own) and the time the hypervisor gave this VM's cores to
other machines (steal), in cores. When other processes or the steal took more than
``--max-foreign`` cores on average during a measured phase, the ratio says more about them
than about the app: the run is marked BUSY and the bench exits with status 3 (unless
``--allow-busy``, for measuring under load on purpose).

Usage:
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/open_large_dataset.py [DIR]
        [--count 10000] [--runs 3] [--json out.json] [--max-foreign 0.5] [--allow-busy]
        [--fresh-all] [--link-fill]

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


def link_fill(folder: Path, count: int) -> Path:
    """A folder of ``count`` images beside ``folder`` made of hard links to the images there,
    repeated under new names (``img_00000``... cycling through the originals, captions too).
    Every path is a separate image to the app and its cache; decoding costs the same per
    image. For machines where generating 10,000 JPEGs takes too long."""
    src = sorted(folder.glob("img_*.jpg"))
    if not src:
        raise SystemExit(f"no images to link in {folder}")
    out = folder.with_name(f"{folder.name}-linked-{count}")
    if len(list(out.glob("img_*.jpg"))) == count:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for i in range(count):
        orig = src[i % len(src)]
        os.link(orig, out / f"img_{i:05d}.jpg")
        cap = orig.with_suffix(".txt")
        if cap.exists():
            os.link(cap, out / f"img_{i:05d}.txt")
    return out


def subset(folder: Path, files: list[Path]) -> Path:
    """A folder of exactly ``files`` (hard links, with their captions) beside ``folder``,
    so that the app opens the same images the bare decode reads."""
    sub = folder.with_name(f"{folder.name}-{len(files)}")
    if len(list(sub.glob("img_*.jpg"))) == len(files):
        return sub
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir()
    for f in files:
        os.link(f, sub / f.name)
        cap = f.with_suffix(".txt")
        if cap.exists():
            os.link(cap, sub / cap.name)
    return sub


def warm_page_cache(files: list[Path]) -> None:
    for f in files:
        f.read_bytes()


def bare_decode(files: list[Path], threads: int, bucket: int = 256) -> tuple[float, float, dict]:
    """Thumbnails/s, CPU s per image and the load meanwhile, of plain PIL: open, draft,
    load, thumbnail (no hashing, no cache, no GUI)."""
    from PIL import Image

    def one(path: Path) -> None:
        with Image.open(path) as im:
            im.draft("RGB", (bucket, bucket))
            im.load()
            im.thumbnail((bucket, bucket))

    t, cpu, load = time.perf_counter(), _cpu(), Load()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files, chunksize=16))
    rate = len(files) / (time.perf_counter() - t)
    return rate, (_cpu() - cpu) / len(files), load.stop()


class Load:
    """Load average and the CPU other processes use during a phase (Linux; None elsewhere)."""

    def __init__(self) -> None:
        self.load_start = os.getloadavg()[0]
        self.wall = time.perf_counter()
        self.own = _cpu() + _children_cpu()
        self.machine, self.steal = _machine_busy()

    def stop(self) -> dict:
        wall = time.perf_counter() - self.wall
        own = _cpu() + _children_cpu() - self.own
        machine, steal = _machine_busy()
        foreign = stolen = None
        if machine is not None and self.machine is not None and wall > 0:
            foreign = max(0.0, (machine - self.machine - own) / wall)
        if steal is not None and self.steal is not None and wall > 0:
            stolen = max(0.0, (steal - self.steal) / wall)
        return {
            "load1": round(max(self.load_start, os.getloadavg()[0]), 2),
            "foreign_cores": None if foreign is None else round(foreign, 2),
            "steal_cores": None if stolen is None else round(stolen, 2),
        }


def _machine_busy() -> tuple[float | None, float | None]:
    """CPU seconds the whole machine has spent busy (all cores) since boot, and the time
    the hypervisor gave this VM's cores to other machines (steal: not in "busy")."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None, None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    busy = sum(fields[:7]) - idle  # guest time is already counted in user
    return busy / tick, steal / tick


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by thread name (Linux; {} elsewhere).
    Threads of the same name (the decoding workers) are summed."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        name = "main (GUI)" if tid == str(os.getpid()) else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


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
        out["first_paint_cpu_s"] = _cpu() - open_cpu  # all threads: robust to other load
        out["open_load"] = open_load.stop()
        stall["cpu0"] = _cpu()
        stall["threads0"] = _thread_cpu()
        stall["load"] = Load()
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
            poller.stop()  # its 200 wake-ups a second are the bench's CPU, not the app's

    def progress(_gen: int, done: int, total: int) -> None:
        if done >= total and total == model.rowCount():
            out["all_cached_s"] = clock.elapsed() / 1000
            out["cache_cpu_ms"] = (_cpu() - stall["cpu0"]) / total * 1000
            now, before = _thread_cpu(), stall["threads0"]
            out["fill_thread_cpu_s"] = {
                k: round(v - before.get(k, 0.0), 2)
                for k, v in sorted(now.items(), key=lambda kv: -kv[1] + before.get(kv[0], 0.0))
                if v - before.get(k, 0.0) >= 0.01
            }
            out["fill_load"] = stall["load"].stop()
            loop.quit()

    grid.first_paint.connect(first_paint)
    poller = QTimer()
    poller.setInterval(5)
    poller.timeout.connect(poll)
    poller.start()
    loader.background_progress.connect(progress)
    open_load = Load()
    open_cpu = _cpu()
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


def _run_line(i: int, run: dict, phases: dict[str, dict]) -> str:
    """One run's figures, each with the load while it was measured."""

    def load(ph: dict) -> str:
        f, st = ph["foreign_cores"], ph.get("steal_cores")
        return (
            f"load {ph['load1']:.1f}, others {'?' if f is None else f'{f:.2f}'} cores, "
            f"steal {'?' if st is None else f'{st:.2f}'}"
        )

    kind = "first open" if run["first_open"] else "reopen"
    return "\n".join(
        [
            f"run {i + 1} ({kind}, {run['images']} images):",
            f"  open -> first paint        {run['first_paint_s']:7.2f} s    [{load(phases['open'])}]"
            f"  (CPU {run['first_paint_cpu_s']:.2f} s)",
            f"  open -> visible thumbnails {run.get('visible_s', float('nan')):7.2f} s",
            f"  cache fill                 {run['cache_rate']:7.0f} /s   [{load(phases['fill'])}]",
            f"  bare decode before / after {run['bare_rates'][0]:7.0f} / {run['bare_rates'][1]:.0f} /s"
            f"   [{load(phases['bare before'])}] / [{load(phases['bare after'])}]",
            f"  fill / bare (wall)         {run['ratio']:7.2f}",
            f"  CPU per thumbnail app/bare {run['cache_cpu_ms']:7.2f} / {run['bare_cpu_ms']:.2f} ms"
            f"  (bare/app {run['cpu_ratio']:.2f})",
            f"  longest GUI stall          {run['max_stall_ms']:7.0f} ms",
            "  CPU while filling, by thread (s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in run.get("fill_thread_cpu_s", {}).items()),
            f"  scroll to end, visible     {run['scroll_end_visible_s']:7.2f} s",
        ]
    )


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
    ap.add_argument(
        "--fresh-all",
        action="store_true",
        help="delete the folder's .likeness state before every run (every run is a first open)",
    )
    ap.add_argument(
        "--max-foreign",
        type=float,
        default=0.5,
        help="cores other processes may use on average during a measured phase (default 0.5)",
    )
    ap.add_argument(
        "--link-fill",
        action="store_true",
        help="make up --count images from the ones already in DIR/images with hard links "
        "(no generating)",
    )
    ap.add_argument(
        "--allow-busy", action="store_true", help="report a busy machine but exit 0 (under load)"
    )
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = Path(args.dir) / "images"
    if args.link_fill:
        folder = link_fill(folder, args.count)
    else:
        generate(folder, args.count)
    files = sorted(folder.glob("img_*.jpg"))[: args.count]
    if len(files) < args.count:
        print(f"only {len(files)} images in {folder}", file=sys.stderr)
        return 2
    if len(list(folder.glob("img_*.jpg"))) > args.count:
        folder = subset(folder, files)
        files = sorted(folder.glob("img_*.jpg"))
    threads = max(2, os.cpu_count() or 2)
    home = Path(tempfile.mkdtemp(prefix="likeness-bench-home-"))
    print(
        f"{len(files)} images in {folder}, {threads} decoding threads, {os.cpu_count()} CPUs",
        flush=True,
    )
    if not args.with_panels:
        _disable_panels()
    warm_page_cache(files)
    cold_load = Load()
    wall, cpu = cold_start(max(3, args.runs), home / "cold")
    cold = cold_load.stop()
    results = {"cold_start_s": wall, "cold_start_cpu_s": cpu, "cold_start_load": cold, "runs": []}
    print(
        f"cold start: wall {[round(t, 2) for t in wall]}, cpu {[round(t, 2) for t in cpu]}"
        f"   [load {cold['load1']:.1f}, others {cold['foreign_cores']} cores, "
        f"steal {cold['steal_cores']}]",
        flush=True,
    )
    busy: list[str] = []
    for i in range(args.runs):
        fresh = args.fresh_all or i == 0
        before = bare_decode(files, threads)
        run = gui_run(folder, home / f"run{i}", fresh_state=fresh)
        after = bare_decode(files, threads)
        bare = (before[0] + after[0]) / 2
        run["first_open"] = fresh
        run["bare_rate"] = bare
        run["bare_rates"] = [round(before[0], 1), round(after[0], 1)]
        run["ratio"] = run["cache_rate"] / bare
        run["bare_cpu_ms"] = (before[1] + after[1]) / 2 * 1000
        run["cpu_ratio"] = run["bare_cpu_ms"] / run["cache_cpu_ms"]
        run["bare_load"] = [before[2], after[2]]
        results["runs"].append(run)
        phases = {"bare before": before[2], "fill": run["fill_load"], "bare after": after[2]}
        phases["open"] = run["open_load"]
        for name, load in phases.items():
            if load["foreign_cores"] is not None and load["foreign_cores"] > args.max_foreign:
                busy.append(
                    f"run {i + 1} {name}: other processes used {load['foreign_cores']} cores"
                )
            if load["steal_cores"] is not None and load["steal_cores"] > args.max_foreign:
                busy.append(
                    f"run {i + 1} {name}: the hypervisor took {load['steal_cores']} cores (steal)"
                )
        print(_run_line(i, run, phases), flush=True)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = {
        k: statistics.median(r[k] for r in results["runs"])
        for k in results["runs"][0]
        if isinstance(results["runs"][0][k], float)
    }
    firsts = [r["first_paint_s"] for r in results["runs"] if r["first_open"]]
    med["first_open_first_paint_s"] = statistics.median(firsts)
    med["cold_start_s"] = statistics.median(results["cold_start_s"])
    med["cold_start_cpu_s"] = statistics.median(results["cold_start_cpu_s"])
    load = os.getloadavg()
    results["loadavg"] = load
    foreign = [
        ph["foreign_cores"]
        for r in results["runs"]
        for ph in (r["fill_load"], *r["bare_load"])
        if ph["foreign_cores"] is not None
    ]
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if foreign:
        print(f"other processes while measuring: {min(foreign):.2f}-{max(foreign):.2f} cores")
    steal = [
        ph["steal_cores"]
        for r in results["runs"]
        for ph in (r["fill_load"], *r["bare_load"])
        if ph.get("steal_cores") is not None
    ]
    if steal:
        print(f"steal (hypervisor) while measuring: {min(steal):.2f}-{max(steal):.2f} cores")
    med["peak_rss_mb"] = results["peak_rss_mb"]
    results["median"] = med
    results["busy"] = busy
    print(f"\nmedians of {args.runs} runs:")
    for k, v in med.items():
        print(f"  {k:26s} {v:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(home, ignore_errors=True)
    if busy:
        print(
            "\n*** MACHINE TOO BUSY for a meaningful ratio (limit --max-foreign "
            f"{args.max_foreign} cores of {os.cpu_count()}):\n    " + "\n    ".join(busy),
            file=sys.stderr,
        )
        if not args.allow_busy:
            print("*** figures above are NOT valid; rerun at a quiet time", file=sys.stderr)
            return 3
        print("*** --allow-busy: figures measured under that load", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
