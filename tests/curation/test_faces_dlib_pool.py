"""dlib's descriptor in the persistent process pool (`curation.faces.dlib_pool`): the same
vectors as in-process, clean shutdown, a crashed worker costs one image, cancel."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dlib")

from curation.analysis.runner import analyze_dataset  # noqa: E402
from curation.faces.base import FaceBackendError  # noqa: E402
from curation.faces.dlib_backend import (  # noqa: E402
    DESCRIPTOR,
    DlibDetector,
    DlibEmbedder,
    dlib_available,
)
from curation.faces.dlib_pool import DescriptorPool  # noqa: E402
from curation.jobs import CancelToken  # noqa: E402

pytestmark = pytest.mark.skipif(
    dlib_available() is not None, reason="dlib model files not installed"
)


@pytest.fixture
def two_people(faces_dir):
    rgb = np.asarray(Image.open(faces_dir / "face_recognition" / "two_people.jpg").convert("RGB"))
    boxes = [f.box for f in DlibDetector(use_yunet=False).detect(rgb)]
    assert len(boxes) == 2
    return rgb, boxes


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); its state in /proc says it ended
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_pool_gives_the_in_process_vectors_and_frees_the_gil(two_people):
    rgb, boxes = two_people
    remote = DlibEmbedder(workers=2)
    local = DlibEmbedder(workers=0)
    try:
        a = remote.embed(rgb, boxes)
        pool = remote.pool()
        assert pool is not None and len(pool.pids) == 2  # it really ran in the children
        b = local.embed(rgb, boxes)
        assert local.pool() is None and remote.parallel == 2 and local.parallel == 1
        assert all(np.allclose(x, y, atol=1e-6) for x, y in zip(a, b, strict=True))
        assert pool.cpu_seconds() > 0

        def spin_rate(embedder) -> float:
            count, stop = [0], threading.Event()

            def spin():
                while not stop.is_set():
                    count[0] += 1

            t = threading.Thread(target=spin)
            t.start()
            t0 = time.perf_counter()
            for _ in range(2):
                embedder.embed(rgb, boxes)
            elapsed = time.perf_counter() - t0
            stop.set()
            t.join()
            return count[0] / elapsed

        # in-process, dlib holds the GIL for the whole network; with the pool it does not
        assert spin_rate(remote) > 3 * spin_rate(local)
    finally:
        remote.close()
    assert remote.pool() is None  # closed: in-process from now on, same vectors
    c = remote.embed(rgb, boxes)
    assert all(np.allclose(x, y, atol=1e-6) for x, y in zip(b, c, strict=True))


def test_close_ends_every_worker(two_people):
    rgb, boxes = two_people
    emb = DlibEmbedder(workers=2)
    emb.embed(rgb, boxes)
    pids = emb.pool().pids
    emb.close()
    deadline = time.monotonic() + 5
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids)


def test_a_crashed_worker_fails_one_request_and_is_restarted(two_people):
    rgb, boxes = two_people
    emb = DlibEmbedder(workers=1)
    try:
        ref = emb.embed(rgb, boxes)
        pool = emb.pool()
        (pid,) = pool.pids
        worker = pool._workers[0]
        real_read, armed = worker._read, [True]

        def read(size):  # the request is sent, then the worker dies
            if armed[0]:
                armed[0] = False
                os.kill(pid, signal.SIGKILL)
                worker.proc.wait(10)
            return real_read(size)

        worker._read = read
        with pytest.raises(FaceBackendError, match="ended"):
            emb.embed(rgb, boxes)
        del worker._read
        again = emb.embed(rgb, boxes)  # started again on its next use
        assert pool.pids and pool.pids[0] != pid
        assert all(np.allclose(x, y, atol=1e-6) for x, y in zip(ref, again, strict=True))
    finally:
        emb.close()


def test_a_worker_crash_in_an_analysis_is_one_image_error(faces_dir, tmp_path, monkeypatch):
    """Kill the worker while the third image is embedded: that image gets a per-image error,
    every other image is analysed, with its identity vector."""
    fr = faces_dir / "face_recognition"
    names = ["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg", "two_people.jpg"]
    paths = []
    for name in names:
        dest = tmp_path / name
        Image.open(fr / name).convert("RGB").save(dest, quality=92)
        paths.append(dest)
    det = DlibDetector(tmp_path / "models", use_yunet=False)
    emb = DlibEmbedder(workers=1)
    monkeypatch.setattr(det, "embedder", emb)
    try:
        pool = emb.pool()
        real, worker = pool.compute, pool._workers[0]
        real_read = worker._read
        calls, armed = [0], [False]

        def count(chips):
            calls[0] += 1
            armed[0] = calls[0] == 3
            return real(chips)

        def read(size):  # the third request is sent, then its worker dies
            if armed[0]:
                armed[0] = False
                os.kill(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait(10)
            return real_read(size)

        monkeypatch.setattr(pool, "compute", count)
        monkeypatch.setattr(worker, "_read", read)
        result = analyze_dataset(paths, detector=det, root=tmp_path, workers=1)
    finally:
        emb.close()
    by_rel = {img.rel: img for img in result.images}
    bad = [rel for rel, img in by_rel.items() if not img.ok]
    assert bad == ["biden.jpg"], bad
    assert "face descriptor process ended" in result.raw["biden.jpg"]
    for rel in set(names) - {"biden.jpg"}:
        assert all(f.get("embedding") for f in result.raw[rel]["faces"]), rel


def test_close_fails_a_request_in_flight_at_once(two_people):
    rgb, boxes = two_people
    pool = DescriptorPool(DlibEmbedder(workers=0).files[DESCRIPTOR], size=1)
    import dlib

    emb = DlibEmbedder(workers=0)
    chip = dlib.get_face_chip(rgb, emb.shape(rgb, boxes[0]), size=150, padding=0.25)
    errors: list[Exception] = []

    def busy():
        try:
            pool.compute([chip] * 60)  # seconds of work
        except FaceBackendError as exc:
            errors.append(exc)

    t = threading.Thread(target=busy)
    t.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    pool.close()
    t.join(10)
    assert not t.is_alive() and time.perf_counter() - t0 < 5
    assert len(errors) == 1
    with pytest.raises(FaceBackendError, match="closed"):
        pool.compute([chip])


def test_cancelled_analysis_stops_and_the_pool_stays_usable(faces_dir, tmp_path, two_people):
    src = Image.open(faces_dir / "face_recognition" / "obama.jpg").convert("RGB")
    paths = []
    for i in range(8):
        dest = tmp_path / f"img_{i}.jpg"
        src.rotate(i * 2).save(dest, quality=92)
        paths.append(dest)
    det = DlibDetector(tmp_path / "models", use_yunet=False)
    det.embedder = emb = DlibEmbedder(workers=2)
    cancel = CancelToken()
    seen: list[str] = []

    def on_item(rel, raw):
        seen.append(rel)
        if len(seen) == 2:
            cancel.cancel()

    try:
        result = analyze_dataset(paths, detector=det, root=tmp_path, cancel=cancel, on_item=on_item)
        assert result.cancelled and 2 <= len(result.raw) < len(paths)
        rgb, boxes = two_people
        assert len(emb.embed(rgb, boxes)) == 2  # the pool goes on serving
    finally:
        emb.close()


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path):
    bad = tmp_path / DESCRIPTOR
    bad.write_bytes(b"not a model")
    with pytest.raises(FaceBackendError, match="failed to load"):
        DescriptorPool(bad, size=1)


def test_a_rerun_reuses_the_cached_dlib_embeddings(faces_dir, tmp_path, monkeypatch):
    """Embeddings are part of the cached measures (content hash + backend + version): a second
    analysis of the same files computes no descriptor at all and scores the same."""
    from curation.workspace import Workspace

    root = tmp_path / "set"
    root.mkdir()
    fr = faces_dir / "face_recognition"
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg"]:
        Image.open(fr / name).convert("RGB").save(root / name, quality=92)
    det = DlibDetector(tmp_path / "models", use_yunet=False)
    det.embedder = emb = DlibEmbedder(workers=2)
    try:
        with Workspace.open(root) as ws:
            first = analyze_dataset(ws, detector=det)
            calls = [0]
            real = emb.embed

            def counted(rgb, boxes):
                calls[0] += 1
                return real(rgb, boxes)

            monkeypatch.setattr(emb, "embed", counted)
            again = analyze_dataset(ws, detector=det)
    finally:
        emb.close()
    assert calls[0] == 0 and again.cached == 3
    for rel in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        a, b = first.raw[rel]["faces"][0]["embedding"], again.raw[rel]["faces"][0]["embedding"]
        assert a and np.allclose(a, b, atol=1e-6)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice is Linux-only")
def test_workers_started_from_a_niced_thread_keep_the_launchers_priority():
    """The GUI's analysis thread is niced; the descriptor processes it first uses must run at
    the GUI's priority (a child inherits the starting thread's nice value)."""
    from curation.faces import dlib_pool

    dlib_pool.start_from_this_thread()
    base = os.getpriority(os.PRIO_PROCESS, 0)
    model = DlibEmbedder(workers=0).files[DESCRIPTOR]
    out: dict[str, object] = {}

    def niced():
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, base + 5))
        pool = DescriptorPool(model, size=1)
        out["nice"] = os.getpriority(os.PRIO_PROCESS, pool.pids[0])
        out["mine"] = os.getpriority(os.PRIO_PROCESS, tid)
        pool.close()

    t = threading.Thread(target=niced)
    t.start()
    t.join(60)
    assert out == {"nice": base, "mine": min(19, base + 5)}
