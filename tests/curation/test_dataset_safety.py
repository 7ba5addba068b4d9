"""Dataset safety: two writers at once never lose an edit, nothing is written, deleted or
followed outside the dataset, special files never hang a command, corners end cleanly.

Every test that plants links checks that no byte outside the dataset changed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from curation import workspace
from curation.caption_io import TEMP_MARK
from curation.errors import WorkspaceError
from curation.workspace import CHANGED_WHILE_SAVING, Workspace
from tests.corpus import hash_tree, make_dataset

REPO = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder`` (links as their target text, files as their bytes)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file():
                out[rel] = path.read_bytes()
            else:
                out[rel] = "dir"
    return out


def likeness(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


# -- 1. no lost updates -------------------------------------------------------------------
N_CONCURRENT = 300


@pytest.mark.parametrize("trial", range(2))
def test_two_processes_editing_one_dataset_lose_nothing(tmp_path: Path, trial: int) -> None:
    """Two ``likeness replace`` at once on one folder: both edits reach every caption, and
    undoing twice gives back the original text exactly."""
    ds = tmp_path / "ds"
    make_dataset(ds, N_CONCURRENT, caption="alpha beta")
    before = {p.name: p.read_text() for p in ds.glob("*.txt")}
    Workspace.open(ds).close()  # state exists: both start from the same history
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "desktop", "replace", str(ds), a, b, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for a, b in (("alpha", "ALPHA"), ("beta", "BETA"))
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, errtext) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, errtext
        assert '"written": 300' in out, (out[-300:], errtext)
    for i in range(N_CONCURRENT):
        assert (ds / f"img{i:05d}.txt").read_text() == f"ALPHA BETA {i}"
    with Workspace.open(ds) as ws:
        steps = ws.steps()
        assert [s.count for s in steps] == [N_CONCURRENT, N_CONCURRENT]
        assert not ws.undo().skipped and not ws.undo().skipped
    assert {p.name: p.read_text() for p in ds.glob("*.txt")} == before


def test_two_workspaces_in_one_process_serialise(tmp_path: Path) -> None:
    """The GUI and a CLI in one process (two Workspace objects): the second waits for the
    first step, then plans on its result."""
    ds = tmp_path / "ds"
    make_dataset(ds, 6, caption="old")
    ws_a, ws_b = Workspace.open(ds), Workspace.open(ds)
    try:
        in_a, release = threading.Event(), threading.Event()

        def a() -> None:
            with ws_a.writing():
                in_a.set()
                assert release.wait(20)
                ws_a.apply_changes({f"img{i:05d}.png": f"a {i}" for i in range(6)})

        t = threading.Thread(target=a)
        t.start()
        assert in_a.wait(20)
        done_b = []

        def b() -> None:
            with ws_b.writing():
                caps = ws_b.captions()
                done_b.append(ws_b.apply_changes({r: c + " +b" for r, c in caps.items()}))

        tb = threading.Thread(target=b)
        tb.start()
        time.sleep(0.3)
        assert not done_b  # b waits while a holds the lock
        release.set()
        t.join(20)
        tb.join(20)
        assert len(done_b[0].written) == 6
        assert [(ds / f"img{i:05d}.txt").read_text() for i in range(6)] == [
            f"a {i} +b" for i in range(6)
        ]
    finally:
        ws_a.close()
        ws_b.close()


def test_caption_changed_while_saving_is_not_overwritten(tmp_path: Path, monkeypatch) -> None:
    """Compare-and-swap: another program writes a caption between Likeness's last check and
    its write (same size and mtime, so no stat would notice): it is kept and reported."""
    ds = tmp_path / "ds"
    make_dataset(ds, 3, caption="old")
    real_sync = Workspace.sync_from_disk

    def sync_then_race(self, rels=None):
        changed = real_sync(self, rels)
        path = ds / "img00001.txt"
        st = path.stat()
        path.write_text("OLD 1")  # an editor saving the same length within the same tick
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return changed

    with Workspace.open(ds) as ws:
        monkeypatch.setattr(Workspace, "sync_from_disk", sync_then_race)
        res = ws.apply_changes({f"img{i:05d}.png": f"new {i}" for i in range(3)})
        monkeypatch.undo()
        assert sorted(res.written) == ["img00000.png", "img00002.png"]
        assert [(s.path, s.error) for s in res.skipped] == [("img00001.png", CHANGED_WHILE_SAVING)]
        assert ws.caption("img00001.png") == "OLD 1"
        assert [h.origin for h in ws.history("img00001.png")][-1] == "external"
        assert ws.steps()[-1].count == 2  # the step holds only what it wrote
        ws.undo()
    assert [(ds / f"img{i:05d}.txt").read_text() for i in range(3)] == ["old 0", "OLD 1", "old 2"]


def test_busy_writer_lock_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 2, caption="old")
    (ds / ".likeness").mkdir()
    script = (
        "import fcntl, os, time\n"
        f"fd = os.open({str(ds / '.likeness' / 'writer.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Workspace.open(ds) as ws:
            ws._writer.timeout_s = 0.3
            with pytest.raises(WorkspaceError, match="another Likeness window or command"):
                ws.set_caption("img00000.png", "new")
        assert (ds / "img00000.txt").read_text() == "old 0"
    finally:
        holder.kill()
        holder.wait()
    with Workspace.open(ds) as ws:  # the lock died with its process
        assert ws.set_caption("img00000.png", "new").written == ["img00000.png"]


# -- 2. nothing outside the folder --------------------------------------------------------
@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A dataset whose captions and subfolders link outside it (and inside it)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("someone else's file")
    (outside / "shared").mkdir()
    make_dataset(outside / "shared", 1, caption="outside caption")
    ds = tmp_path / "ds"
    make_dataset(ds, 5, caption="old")
    (ds / "img00000.txt").unlink()
    (ds / "img00000.txt").symlink_to(outside / "secret.txt")  # out
    (ds / "img00001.txt").unlink()
    (ds / "img00001.txt").symlink_to(outside / "created-by-link.txt")  # dangling, out
    (ds / "img00002.txt").unlink()
    (ds / "img00002.txt").symlink_to("img00003.txt")  # inside
    (ds / "linked").symlink_to(outside / "shared", target_is_directory=True)
    return ds, outside


def test_no_command_writes_or_deletes_through_links(linked) -> None:
    ds, outside = linked
    before_out = snapshot(outside)
    with Workspace.open(ds) as ws:
        rels = [i.rel for i in ws.items]
        assert not any(r.startswith("linked/") for r in rels)  # linked folders not followed
        assert "outside the dataset" in ws.caption_warnings["img00000.png"]
        assert "does not exist" in ws.caption_warnings["img00001.png"]
        assert ws.caption("img00002.png") == "old 3"
        assert "symbolic link" in ws.read_only()["img00002.png"]
        res = ws.apply_changes({r: "ohwx, edited" for r in rels})
        assert sorted(res.written) == ["img00003.png", "img00004.png"]
        assert {s.path for s in res.skipped} == {"img00000.png", "img00001.png", "img00002.png"}
        assert all(s.error for s in res.skipped) and not res.pending
        ws.undo()
        ws.redo()
        ws.undo()
    assert snapshot(outside) == before_out
    assert not (outside / "created-by-link.txt").exists()
    for i in range(3):
        assert (ds / f"img{i:05d}.txt").is_symlink()
    assert (ds / "img00003.txt").read_text() == "old 3"


def test_cli_bulk_and_headless_write_nothing_outside(linked) -> None:
    ds, outside = linked
    before_out = snapshot(outside)
    r = likeness("bulk", "prepend", str(ds), "ohwx,", "--include-uncaptioned")
    assert r.returncode == 1 and "symbolic link" in r.stderr, r.stderr
    assert likeness("undo", str(ds)).returncode == 0
    assert snapshot(outside) == before_out


def test_likeness_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (ds / ".likeness").symlink_to(elsewhere, target_is_directory=True)
    for create in (True, False):
        with pytest.raises(WorkspaceError, match=r"\.likeness is a link, not a folder"):
            Workspace.open(ds, create=create)
    assert list(elsewhere.iterdir()) == []
    (ds / ".likeness").unlink()
    (ds / ".likeness").write_text("x")
    with pytest.raises(WorkspaceError, match="is a file, not a folder"):
        Workspace.open(ds)
    r = likeness("bulk", "dedupe", str(ds))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not a folder" in r.stderr


def test_state_file_that_is_a_folder_is_one_clear_error(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 2)
    (ds / ".likeness" / "state.sqlite").mkdir(parents=True)
    with pytest.raises(WorkspaceError, match=r"state\.sqlite is a folder, not a file"):
        Workspace.open(ds)
    for cmd in (("scan", str(ds)), ("bulk", "dedupe", str(ds)), ("undo", str(ds))):
        r = likeness(*cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "Traceback" not in r.stderr and "is a folder, not a file" in r.stderr


# -- 3. special files ---------------------------------------------------------------------
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")


@needs_fifo
def test_fifos_and_folders_named_like_files_never_hang(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 4, caption="old")
    (ds / "img00000.txt").unlink()
    os.mkfifo(ds / "img00000.txt")  # caption FIFO
    os.mkfifo(ds / "pipe.png")  # image FIFO
    (ds / "img00001.txt").unlink()
    (ds / "img00001.txt").mkdir()  # caption folder
    (ds / "zero.png").write_bytes((ds / "img00002.png").read_bytes())
    (ds / "zero.txt").symlink_to("/dev/zero")
    for cmd in (
        ("scan", str(ds), "--json"),
        ("bulk", "append", str(ds), ", end", "--include-uncaptioned"),
        ("undo", str(ds)),
        ("lint", str(ds), "--trigger", "ohwx"),
    ):
        r = likeness(*cmd, timeout=90)
        assert "Traceback" not in r.stderr, (cmd, r.stderr)
        if cmd[0] == "scan":
            out = r.stdout
            assert "pipe.png" in out and "FIFO" in out
            assert "img00001.txt" in out and "a folder" in out
        if cmd[0] == "bulk":
            assert r.returncode == 1
            for name in ("img00000.png", "img00001.png", "zero.png"):
                assert name in r.stderr, (name, r.stderr)
    assert (ds / "img00001.txt").is_dir() and (ds / "zero.txt").is_symlink()
    assert (ds / "img00002.txt").read_text() == "old 2"  # undone


# -- 4. corners ---------------------------------------------------------------------------
def test_edited_caption_keeps_mode_and_owner_and_0444_is_read_only(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 2, caption="old")
    (ds / "img00000.txt").chmod(0o444)
    (ds / "img00001.txt").chmod(0o640)
    if IS_ROOT:
        os.chown(ds / "img00001.txt", 4321, 4321)
    with Workspace.open(ds) as ws:
        res = ws.apply_changes({"img00000.png": "new", "img00001.png": "new"})
        assert res.written == ["img00001.png"] and "read-only" in res.pending[0].error
    assert (ds / "img00000.txt").read_text() == "old 0"
    st = os.stat(ds / "img00001.txt")
    assert (ds / "img00001.txt").read_text() == "new" and st.st_mode & 0o7777 == 0o640
    if IS_ROOT:
        assert (st.st_uid, st.st_gid) == (4321, 4321)


def test_temp_files_of_a_dead_writer_are_cleaned_at_the_next_open(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 2)
    (ds / "sub").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for folder in (ds, ds / "sub"):
        (folder / f"{TEMP_MARK}{dead.pid}-0000").write_text("half")
    make_dataset(ds / "sub", 1)
    mine = ds / f"{TEMP_MARK}{os.getpid()}-1111"  # a live writer's: kept
    mine.write_text("in use")
    Workspace.open(ds).close()
    assert sorted(p.name for p in ds.rglob(f"*{TEMP_MARK}*")) == [mine.name]


def test_long_caption_name_saves_through_the_workspace(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    stem = "n" * 251
    (ds / "a.png").write_bytes(b"")
    make_dataset(tmp_path / "src", 1)
    (tmp_path / "src" / "img00000.png").rename(ds / f"{stem}.png")
    (ds / "a.png").unlink()
    with Workspace.open(ds) as ws:
        assert ws.set_caption(f"{stem}.png", "ohwx").written == [f"{stem}.png"]
    assert (ds / f"{stem}.txt").read_text() == "ohwx"


def test_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 400, caption="old")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = f"{sys.executable} -m desktop bulk append {ds} x --json | head -c 10"
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert r.returncode == 0
    assert (ds / "img00399.txt").read_text() == "old 399, x"  # the edit was applied


def test_hash_of_images_never_changes(linked) -> None:
    ds, _outside = linked
    before = hash_tree(ds, (".png",))
    with Workspace.open(ds) as ws:
        ws.apply_changes({i.rel: "x" for i in ws.items})
        ws.undo()
    assert hash_tree(ds, (".png",)) == before


def test_write_caption_never_called_for_a_link(linked, monkeypatch) -> None:
    ds, _outside = linked
    seen: list[str] = []
    real = workspace.write_caption_atomic

    def spy(path, text, root=None):
        seen.append(Path(path).name)
        real(path, text, root=root)

    monkeypatch.setattr(workspace, "write_caption_atomic", spy)
    with Workspace.open(ds) as ws:
        ws.apply_changes({i.rel: "x" for i in ws.items})
    assert sorted(seen) == ["img00003.txt", "img00004.txt"]


def test_extreme_aspect_ratios_are_flagged_not_failed(tmp_path: Path) -> None:
    """Valid 65535x1 and 1x65535 images: flagged ``unusable-aspect``, no analysis error."""
    from PIL import Image

    from curation.analysis import analyze_dataset

    ds = tmp_path / "ds"
    ds.mkdir()
    Image.new("RGB", (65535, 1), (90, 90, 90)).save(ds / "wide.png")
    Image.new("RGB", (1, 65535), (90, 90, 90)).save(ds / "tall.png")
    Image.new("RGB", (900, 100), (90, 90, 90)).save(ds / "nine.png")  # 9:1
    Image.new("RGB", (800, 100), (90, 90, 90)).save(ds / "eight.png")  # 8:1: still usable
    with Workspace.open(ds) as ws:
        analysis = analyze_dataset(ws, backend="haar")
    by = {img.rel: img for img in analysis.images}
    for rel in ("wide.png", "tall.png", "nine.png"):
        assert by[rel].error is None and "unusable-aspect" in by[rel].flags, by[rel]
    assert "unusable-aspect" not in by["eight.png"].flags and by["eight.png"].error is None


def test_every_command_names_the_files_scan_skips(tmp_path: Path) -> None:
    """analyze, report, export, lint and bulk print the per-file messages of scan (dangling
    links, loops, undecodable names) on stderr."""
    ds = tmp_path / "ds"
    make_dataset(ds, 2, caption="photo of ohwx")
    (ds / "dangling.png").symlink_to(tmp_path / "nothing.png")
    (ds / "loop.png").symlink_to(ds / "loop.png")
    bad_name = os.fsencode(str(ds)) + b"/caf\xe9.png"
    with open(bad_name, "wb") as fh:
        fh.write((ds / "img00000.png").read_bytes())
    expected = ("dangling.png", "does not exist", "loop.png", "link loop", "not valid UTF-8")
    scan = likeness("scan", str(ds))
    for text in expected:
        assert text in scan.stdout, (text, scan.stdout)
    for cmd in (
        ("analyze", str(ds), "--backend", "haar"),
        ("report", str(ds), "--backend", "haar"),
        ("export", str(ds), str(tmp_path / "out")),
        ("lint", str(ds), "--trigger", "ohwx"),
        ("bulk", "dedupe", str(ds), "--dry-run"),
    ):
        r = likeness(*cmd)
        assert "Traceback" not in r.stderr, (cmd, r.stderr)
        for text in expected:
            assert text in r.stderr, (cmd, text, r.stderr)


@needs_fifo
def test_image_swapped_for_a_fifo_after_the_scan_is_an_error_not_a_hang(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    make_dataset(ds, 3)
    with Workspace.open(ds) as ws:
        (ds / "img00001.png").unlink()
        os.mkfifo(ds / "img00001.png")
        results = {r.path: r for r in ws.probe_all()}
        assert "FIFO" in results["img00001.png"].error
        assert results["img00000.png"].error is None


# -- 6. the hostile corpus through every command -------------------------------------------
def _regular_captions(ds: Path) -> dict[str, str]:
    out = {}
    for p in ds.iterdir():
        if p.suffix == ".txt" and not p.is_symlink() and p.is_file() and p.stat().st_size < 1000:
            out[p.name] = p.read_text()
    return out


def _images(ds: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in ds.iterdir()
        if p.suffix == ".png" and not p.is_symlink() and p.is_file()
    }


def test_hostile_corpus_through_every_command(tmp_path: Path) -> None:
    """Every command on the hostile dataset: no traceback, no hang, no byte outside the
    dataset changed, no image changed, and after the edits are undone every caption holds
    its old text again."""
    from tests.corpus import make_hostile_dataset

    ds, outside = tmp_path / "ds", tmp_path / "outside"
    kinds = make_hostile_dataset(ds, outside)
    before_out, images, captions = snapshot(outside), _images(ds), _regular_captions(ds)
    long_rel = "n" * 251 + ".png"
    steps = [
        ("scan", str(ds), "--json"),
        ("lint", str(ds), "--trigger", "ohwx"),
        ("analyze", str(ds), "--backend", "haar"),
        ("report", str(ds), "--backend", "haar"),
        ("export", str(ds), str(tmp_path / "export")),
        ("bulk", "append", str(ds), "smiling", "--include-uncaptioned"),
        ("replace", str(ds), "ohwx", "l3yla"),
        ("undo", str(ds)),
        ("redo", str(ds)),
        ("undo", str(ds)),
        ("undo", str(ds)),
        ("--headless", str(ds)),
    ]
    outputs = {}
    for cmd in steps:
        r = likeness(*cmd, timeout=120)
        assert "Traceback" not in r.stderr, (cmd, r.stderr)
        assert r.returncode in (0, 1), (cmd, r.returncode, r.stderr)
        outputs[cmd[0]] = r
        if cmd[0] == "bulk":
            assert (ds / long_rel).with_suffix(".txt").read_text() == "smiling"
    scan = outputs["scan"].stdout
    for name in ("img_dangling.png", "img_loop.png", "img_zero.png", "fifo.png", "bad"):
        if name in kinds or name == "bad":
            assert name in scan, (name, scan)
    for name in ("cap_out.png", "cap_dangling.png", "cap_loop.png", "cap_zero.png", "cap_big.png"):
        assert name in outputs["bulk"].stderr, (name, outputs["bulk"].stderr)
    assert snapshot(outside) == before_out
    assert _images(ds) == images
    assert _regular_captions(ds) == captions
    assert not (outside / "made-by-link.txt").exists()
    assert (ds / "cap_out.txt").is_symlink() and (ds / "cap_dangling.txt").is_symlink()
    assert not (ds / ".likeness-tmp-4999999-dead").exists()
    assert oct((ds / "cap_ro.txt").stat().st_mode & 0o777) == "0o444"


@needs_fifo
def test_training_reads_a_hostile_dataset_without_hanging(tmp_path: Path) -> None:
    """The trainer's dataset reading: a FIFO or a folder as a caption is a warning, never a
    hang or a crash (it reads captions with the same reader)."""
    from tests.training.tiny_zimage import make_dataset as make_train_dataset
    from tests.training.tiny_zimage import tiny_config
    from training.config import validate_config
    from training.data import collect_examples
    from training.events import ListSink

    data = make_train_dataset(tmp_path / "data", count=3)
    sub = data / "2_t0ken"
    (sub / "img0.txt").unlink()
    os.mkfifo(sub / "img0.txt")
    (sub / "img1.txt").unlink()
    (sub / "img1.txt").mkdir()
    cfg = validate_config(tiny_config(tmp_path, tmp_path / "model", data))
    sink = ListSink()
    names = {ex.path.name for ex in collect_examples(cfg, sink)}
    assert names == {"img0.png", "img1.png", "img2.png"}
    messages = " ".join(w["message"] for w in sink.of("warning"))
    assert "FIFO" in messages and "a folder" in messages
