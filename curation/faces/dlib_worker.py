"""The child side of `curation.faces.dlib_pool`: dlib's face descriptor on 150x150 chips.

Run as a script (``python -I dlib_worker.py MODEL``), never imported by the app: it imports
only dlib and numpy, so starting it costs a Python start + the model load (no Qt, no app
module, unlike ``multiprocessing``'s spawn, which re-imports the parent's main module).

Protocol on stdin/stdout (little-endian):

* start: the child answers ``R`` + its CPU seconds (float64), or ``E`` + a message;
* request: uint32 n, then n chips of 150x150x3 uint8 (RGB); n = 0 or end of input: exit;
* answer: ``O`` + n x 128 float64 + the child's CPU seconds so far (float64), or ``E`` + a
  message (uint32 length + UTF-8), after which the child goes on serving.
"""

from __future__ import annotations

import struct
import sys
import time

CHIP = 150
CHIP_BYTES = CHIP * CHIP * 3


def _error(out, text: str) -> None:
    data = text.encode("utf-8", "replace")
    out.write(b"E" + struct.pack("<I", len(data)) + data)
    out.flush()


def _read_exact(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def main(model_path: str) -> int:
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the protocol on the pipe
    try:
        import dlib
        import numpy as np

        # dlib-bin ships no type information for its C++ classes
        net = dlib.face_recognition_model_v1(model_path)  # pyright: ignore[reportAttributeAccessIssue]
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which falls back
        _error(out, f"{type(exc).__name__}: {exc}")
        return 1
    out.write(b"R" + struct.pack("<d", time.process_time()))
    out.flush()
    while True:
        head = _read_exact(inp, 4)
        if head is None:
            return 0
        (count,) = struct.unpack("<I", head)
        if count == 0:
            return 0
        body = _read_exact(inp, count * CHIP_BYTES)
        if body is None:
            return 0
        try:
            chips = np.frombuffer(body, np.uint8).reshape(count, CHIP, CHIP, 3)
            vecs = net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
            arr = np.asarray([list(v) for v in vecs], dtype="<f8").reshape(count, 128)
        except Exception as exc:  # noqa: BLE001 - a per-request error, the child goes on
            _error(out, f"{type(exc).__name__}: {exc}")
            continue
        out.write(b"O" + arr.tobytes() + struct.pack("<d", time.process_time()))
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
