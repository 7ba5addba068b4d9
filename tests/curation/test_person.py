"""The back-view candidate detector (``curation.analysis.person``) from several threads."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image, ImageDraw

from curation.analysis import person


def _figure(seed: int) -> np.ndarray:
    """A light background with a dark standing figure (head, torso, legs), slightly varied."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (192, 256), (220, 220, 215))
    d = ImageDraw.Draw(im)
    x = 80 + int(rng.integers(-10, 10))
    d.ellipse((x, 30, x + 32, 66), fill=(60, 50, 45))
    d.rectangle((x - 14, 66, x + 46, 160), fill=(40, 40, 60))
    d.rectangle((x - 6, 160, x + 14, 240), fill=(30, 30, 30))
    d.rectangle((x + 18, 160, x + 38, 240), fill=(30, 30, 30))
    arr = np.asarray(im).astype(np.int16) + rng.integers(-8, 8, (256, 192, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def test_threads_get_their_own_detectors_and_the_same_answers():
    """Two analysis threads run the detector at once: each thread has its own OpenCV
    objects (a shared CascadeClassifier crashed the process), and the answers equal the
    ones of one thread."""
    images = [_figure(i) for i in range(6)]
    expected = [person.find_person(im) for im in images]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    seen: list = []  # the detectors themselves (kept alive, so their ids stay distinct)

    def work(k: int) -> None:
        try:
            seen.append(person._hog())
            results[k] = [person.find_person(im) for im in images for _ in range(3)][::3]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert all(results[k] == expected for k in range(4))
    assert len({id(h) for h in seen}) == 4  # one HOG detector per thread
