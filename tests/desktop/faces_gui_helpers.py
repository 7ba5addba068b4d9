"""Shared helpers for the face-panel GUI tests: datasets, a stand-in detector, waiting."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.curation.face_dataset import make_dataset as make_face_dataset


@pytest.fixture(autouse=True)
def _no_insightface_models(tmp_path, monkeypatch):
    """insightface's cache points at an empty folder: auto never picks it, nothing downloads."""
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "insightface-home"))


@pytest.fixture
def faces_set(faces_dir, yunet_model, tmp_path) -> Path:
    """15 files from the shared photos (2 unreadable), copied into tmp (never the repo)."""
    return make_face_dataset(faces_dir, tmp_path / "faces_set")


def badge_texts(window, rel: str) -> list[str]:
    """The face badges of one tile, as the model holds them (other panels' badges left out)."""
    model = window.browser.model
    mine = model._badges.get("faces", {}).get(rel, [])
    shown = model.badges_for(rel)
    assert all(b in shown for b in mine)
    return [b.text for b in mine]


def open_and_analyse(qtbot, window, folder: Path, timeout: int = 90_000):
    """Open ``folder`` in the GUI and wait for the face analysis to finish."""
    ctrl = window.faces.controller
    with qtbot.waitSignal(ctrl.finished, timeout=timeout):
        with qtbot.waitSignal(window.session.opened, timeout=15_000):
            window.open_folder(str(folder))
    return ctrl.analysis, ctrl.report


def wait_reanalysed(qtbot, window, trigger, timeout: int = 30_000):
    ctrl = window.faces.controller
    with qtbot.waitSignal(ctrl.finished, timeout=timeout):
        trigger()
    return ctrl.analysis, ctrl.report


def settle(qtbot, ms: int = 300) -> None:
    qtbot.wait(ms)


# -- a stand-in detector with embeddings (for identity screens) ------------------------------
PERSON_B = (30, 60, 230)


def make_identity_set(folder: Path, n_a: int = 8) -> Path:
    """``n_a`` images of "person A" and one of "person B"; the corner patch tells them apart."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_a + 1):
        rng = random.Random(i * 7 + 1)
        img = Image.new("RGB", (640, 640), tuple(rng.randint(40, 220) for _ in range(3)))
        d = ImageDraw.Draw(img)
        for _ in range(12):
            x, y, r = rng.randint(0, 640), rng.randint(0, 640), rng.randint(20, 160)
            d.ellipse(
                (x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3))
            )
        person_b = i == n_a
        d.rectangle((0, 0, 48, 48), fill=PERSON_B if person_b else (230, 40, 40))
        d.ellipse((220, 130, 420, 390), fill=(224, 182, 150))  # the "face"
        name = "p_b.jpg" if person_b else f"p_a{i:02d}.jpg"
        img.save(folder / name, "JPEG", quality=92)
    return folder


class EmbeddingDetector:
    """Finds one frontal face where the test drew it; the embedding encodes the person."""

    name = "fake-embeddings"
    has_landmarks = True
    has_embeddings = True

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.threads: set[str] = set()

    def detect(self, image: np.ndarray):
        import threading

        from curation.faces.base import Face, normalise

        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        h, w = image.shape[:2]
        r, _g, b = (int(v) for v in image[8, 8])
        base = np.zeros(64, dtype=np.float32)
        base[1 if b > r else 0] = 1.0
        rng = np.random.default_rng(int(image.mean() * 1000))
        vec = base + 0.5 * normalise(rng.normal(size=64).astype(np.float32))
        x, y, fw, fh = 0.34 * w, 0.2 * h, 0.32 * w, 0.41 * h
        marks = [(x + 0.3 * fw, y + 0.4 * fh), (x + 0.7 * fw, y + 0.4 * fh),
                 (x + 0.5 * fw, y + 0.6 * fh), (x + 0.35 * fw, y + 0.8 * fh),
                 (x + 0.65 * fw, y + 0.8 * fh)]  # fmt: skip
        return [Face((x, y, fw, fh), 0.99, marks, normalise(vec), None, self.name)]
