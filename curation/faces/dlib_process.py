"""dlib's face descriptor in a child process, so its ResNet does not hold this process's GIL.

dlib's Python binding keeps the GIL while the descriptor network runs (50-100 ms per face;
a pure-Python thread ran at 7-9 % of its speed meanwhile, `bench/face_identity.py --costs`),
which would stall the GUI thread and the decode threads once per face. The parent aligns each
face (5-point predictor, ~1 ms) and cuts its 150x150 chip with ``dlib.get_face_chip`` (the
chip ``compute_face_descriptor`` cuts itself: identical vectors), sends the chips through a
pipe and waits for the 128-D vectors with the GIL released, so the other threads run and the
child uses the second core.

The child is started with ``spawn`` (never ``fork`` from a process running Qt threads) on the
first use and ends with its parent. If it cannot start, answers with an error or does not
answer in time, `DescriptorProcess.compute` raises `FaceBackendError` and the caller computes
in-process instead (slower for the other threads, same vectors).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import numpy as np

from curation.faces.base import FaceBackendError

__all__ = ["DescriptorProcess"]

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 120.0


def _serve(conn: Any, model_path: str) -> None:  # runs in the child
    try:
        import dlib

        net = dlib.face_recognition_model_v1(model_path)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which falls back
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            chips = conn.recv()
        except (EOFError, OSError):
            return
        if chips is None:
            return
        try:
            vecs = [np.asarray(net.compute_face_descriptor(chip), np.float64) for chip in chips]
            conn.send(("ok", np.stack(vecs) if vecs else np.zeros((0, 128))))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class DescriptorProcess:
    """One child process holding the descriptor network; thread-safe, one call at a time."""

    def __init__(self, model_path: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, str(model_path)), name="likeness-dlib", daemon=True
        )
        self._lock = threading.Lock()
        try:
            self._proc.start()
        except (OSError, RuntimeError) as exc:
            raise FaceBackendError(f"cannot start the face descriptor process: {exc}") from exc
        finally:
            child.close()
        status, detail = self._receive(START_TIMEOUT_S, "start")
        if status != "ready":
            self.close()
            raise FaceBackendError(f"the face descriptor process failed to load: {detail}")
        atexit.register(self.close)

    def _receive(self, timeout: float, what: str) -> tuple[str, Any]:
        try:
            if not self._conn.poll(timeout):
                self.close()
                raise FaceBackendError(f"the face descriptor process did not {what} in time")
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise FaceBackendError(f"the face descriptor process ended ({exc})") from exc

    def compute(self, chips: list[np.ndarray]) -> np.ndarray:
        """(len(chips), 128) raw descriptors of 150x150 RGB uint8 face chips."""
        if not chips:
            return np.zeros((0, 128))
        with self._lock:
            if not self._proc.is_alive():
                raise FaceBackendError("the face descriptor process is not running")
            try:
                self._conn.send([np.ascontiguousarray(c, dtype=np.uint8) for c in chips])
            except (OSError, ValueError) as exc:
                self.close()
                raise FaceBackendError(f"the face descriptor process ended ({exc})") from exc
            status, detail = self._receive(CALL_TIMEOUT_S, "answer")
        if status != "ok":
            raise FaceBackendError(f"the face descriptor process failed: {detail}")
        return detail

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    def close(self) -> None:
        try:
            if self._proc.is_alive():
                try:
                    self._conn.send(None)
                except (OSError, ValueError):
                    pass
                self._proc.join(2.0)
                if self._proc.is_alive():
                    self._proc.kill()
                    self._proc.join(2.0)
        except (AssertionError, ValueError):  # never started / already closed
            pass
        try:
            self._conn.close()
        except OSError:
            pass
