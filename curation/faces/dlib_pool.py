"""A small persistent pool of child processes computing dlib's face descriptor.

dlib's binding holds the GIL for the whole descriptor network (~77 CPU ms per face in the
``dlib-bin`` wheel, which has no BLAS), so two analysis threads cannot run two descriptors at
once in one process. The pool keeps ``size`` children (`curation.faces.dlib_worker`, started
once with ``python -I`` so they import only dlib and numpy, and warmed: the model is loaded
before the first request); a caller sends the aligned 150x150 chip (67 KB) and waits for the
128-D vector with the GIL released, so the descriptors of two images run on two cores while
this process goes on decoding and detecting.

Failures: a worker that dies or answers garbage fails the request in flight with
`FaceBackendError` (a per-image error for the analysis) and is started again on its next use;
`close` ends every worker and makes requests in flight fail at once (cancel / shutdown).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from curation.faces.base import FaceBackendError

__all__ = ["DescriptorPool", "default_pool_size", "start_from_this_thread"]

log = logging.getLogger(__name__)
CHIP = 150
WORKER = Path(__file__).with_name("dlib_worker.py")


_launcher: ThreadPoolExecutor | None = None
_launcher_lock = threading.Lock()


def start_from_this_thread() -> None:
    """Start worker processes from a thread created here, whichever thread uses the pool.

    A child process inherits the nice value of the thread that starts it (Linux: per thread).
    The GUI runs its analysis thread niced (below the GUI); workers started from there would
    be niced too and lose the CPU to every normal-priority thread of the app, so the GUI calls
    this once from its own thread: the descriptors then run at the app's priority, and only
    the (cheap) detect threads stay niced."""
    global _launcher
    with _launcher_lock:
        if _launcher is None:
            _launcher = ThreadPoolExecutor(1, "likeness-dlib-launcher")
            _launcher.submit(lambda: None).result()  # its thread is created now, by this one


def default_pool_size() -> int:
    """``LIKENESS_DLIB_WORKERS`` when set (0: in-process), else min(2, CPU count)."""
    raw = os.environ.get("LIKENESS_DLIB_WORKERS", "").strip()
    if raw:
        try:
            return max(0, int(raw))
        except ValueError:
            log.warning("LIKENESS_DLIB_WORKERS=%r is not a number; using the default", raw)
    if getattr(sys, "frozen", False):  # no separate Python to start in a frozen build
        return 0
    return min(2, os.cpu_count() or 1)


class _Worker:
    """One child process; used by one thread at a time (the pool hands it out)."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self.proc: subprocess.Popen | None = None
        self.cpu = 0.0  # the child's CPU seconds at its last answer
        self.retired_cpu = 0.0  # CPU seconds of children that ended

    def start(self) -> None:
        launcher = _launcher
        if launcher is not None:
            launcher.submit(self._start).result()
        else:
            self._start()

    def _start(self) -> None:
        flags = subprocess.CREATE_NO_WINDOW if sys.platform == "win32" else 0
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(WORKER), str(self.model_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                creationflags=flags,
            )
        except OSError as exc:
            self.proc = None
            raise FaceBackendError(f"cannot start the face descriptor process: {exc}") from exc

    def wait_ready(self) -> None:
        status = self._read(1)
        if status == b"R":
            self.cpu = struct.unpack("<d", self._read(8))[0]
            return
        detail = self._message() if status == b"E" else "no answer"
        self.kill()
        raise FaceBackendError(f"the face descriptor process failed to load: {detail}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read(self, size: int) -> bytes:
        proc = self.proc
        data = proc.stdout.read(size) if proc is not None and proc.stdout else b""
        if data is None or len(data) != size:
            code = proc.poll() if proc is not None else None
            self.kill()
            raise FaceBackendError(f"the face descriptor process ended (exit code {code})")
        return data

    def _message(self) -> str:
        (length,) = struct.unpack("<I", self._read(4))
        return self._read(length).decode("utf-8", "replace")

    def compute(self, chips: np.ndarray) -> np.ndarray:
        if not self.alive:
            self.kill()
            self.start()
            self.wait_ready()
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(struct.pack("<I", len(chips)) + chips.tobytes())
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self.kill()
            raise FaceBackendError(f"the face descriptor process ended ({exc})") from exc
        status = self._read(1)
        if status == b"E":
            raise FaceBackendError(f"the face descriptor failed: {self._message()}")
        if status != b"O":
            self.kill()
            raise FaceBackendError("the face descriptor process answered garbage")
        vecs = np.frombuffer(self._read(len(chips) * 128 * 8), "<f8").reshape(len(chips), 128)
        self.cpu = struct.unpack("<d", self._read(8))[0]
        return vecs.astype(np.float64)

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                try:
                    if proc.stdin:
                        proc.stdin.close()  # end of input: the child exits by itself
                    proc.wait(2.0)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
            if proc.poll() is None:
                proc.kill()
                proc.wait(2.0)
        except (OSError, subprocess.TimeoutExpired):  # pragma: no cover - the OS refused
            log.warning("face descriptor process %s did not end", proc.pid)
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except (OSError, ValueError):
                pass
        self.retired_cpu += self.cpu
        self.cpu = 0.0


class DescriptorPool:
    """``size`` warmed descriptor processes; `compute` is thread-safe (one worker per call)."""

    def __init__(self, model_path: str | os.PathLike[str], size: int = 2) -> None:
        if size < 1:
            raise ValueError("a descriptor pool needs at least one process")
        self.size = size
        self._workers = [_Worker(Path(model_path)) for _ in range(size)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = threading.Event()
        try:
            for worker in self._workers:  # started together, warmed in parallel
                worker.start()
            for worker in self._workers:
                worker.wait_ready()
        except FaceBackendError:
            self.close()
            raise
        for worker in self._workers:
            self._idle.put(worker)
        atexit.register(self.close)

    def compute(self, chips: list[np.ndarray]) -> np.ndarray:
        """(len(chips), 128) raw descriptors of 150x150 RGB uint8 face chips."""
        if not chips:
            return np.zeros((0, 128))
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        if batch.shape[1:] != (CHIP, CHIP, 3):
            raise ValueError(f"face chips must be {CHIP}x{CHIP}x3, not {batch.shape[1:]}")
        while True:
            if self._closed.is_set():
                raise FaceBackendError("the face descriptor pool is closed")
            try:
                worker = self._idle.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        try:
            if self._closed.is_set():
                raise FaceBackendError("the face descriptor pool is closed")
            return worker.compute(batch)
        finally:
            self._idle.put(worker)

    def cpu_seconds(self) -> float:
        """CPU seconds the workers used so far (as of their last answers)."""
        return sum(w.cpu + w.retired_cpu for w in self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w.proc is not None]

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End every worker; requests in flight fail with `FaceBackendError`."""
        self._closed.set()
        for worker in self._workers:
            proc = worker.proc
            if proc is not None and proc.poll() is None:
                proc.kill()  # a request in flight reads end-of-file at once
        for worker in self._workers:
            worker.kill()
        atexit.unregister(self.close)
