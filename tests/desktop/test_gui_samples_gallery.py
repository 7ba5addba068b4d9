"""The Train tab's samples gallery decodes its pictures off the GUI thread: reopening a run
with many multi-megapixel PNG samples shows the table at once and the pictures fill in."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from training import protocol as p

pytestmark = pytest.mark.gui


def _samples(folder, steps, prompts):
    folder.mkdir(exist_ok=True)
    noise = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), np.uint8)
    paths = []
    for i in range(prompts):  # real-size PNGs (a PNG has no scaled decode: ~30 ms each)
        path = folder / f"p{i}.png"
        Image.fromarray(np.roll(noise, i * 7, axis=1)).save(path, compress_level=1)
        paths.append(path)
    return [
        p.SampleSaved(step=s, index=i, seed=i, prompt=f"photo of t0ken #{i}", path=str(paths[i]))
        for s in steps
        for i in range(prompts)
    ]


def test_pictures_are_decoded_off_the_gui_thread(qtbot, tmp_path, monkeypatch):
    from desktop.app import create_app
    from desktop.panels.train import samples
    from desktop.widgets import scaled_images

    create_app()
    gui = threading.get_ident()
    threads: list[int] = []
    real = scaled_images.read_scaled

    def spy(path, side):
        threads.append(threading.get_ident())
        return real(path, side)

    monkeypatch.setattr(scaled_images, "read_scaled", spy)
    gallery = samples.SamplesGallery()
    qtbot.addWidget(gallery)
    gallery.resize(600, 400)
    gallery.show()
    events = _samples(tmp_path / "s", [100, 200, 300, 400, 500], 4)
    broken = tmp_path / "s" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    events.append(p.SampleSaved(step=500, index=4, prompt="broken", path=str(broken)))
    start = time.perf_counter()
    for ev in events:
        gallery.add_sample(ev)
    added = time.perf_counter() - start
    assert gallery.rowCount() == 5 and gallery.columnCount() == 5
    assert gallery.item(0, 0).text() == "…"  # shown at once, the picture follows
    qtbot.waitUntil(lambda: gallery.pending() == 0, timeout=30000)
    qtbot.waitUntil(lambda: not gallery.item(4, 0).icon().isNull(), timeout=5000)
    assert len(threads) == 5 and gui not in threads  # 4 pictures + the broken one, once each
    assert all(not gallery.item(r, c).icon().isNull() for r in range(5) for c in range(4))
    assert gallery.item(4, 4).text() == "!" and "cannot show" in gallery.item(4, 4).toolTip()
    assert added < 2.0  # (21 PNG decodes on this thread would take about 0.6 s or more)


def test_clearing_drops_the_pictures_of_the_previous_run(qtbot, tmp_path):
    from desktop.app import create_app
    from desktop.panels.train.samples import SamplesGallery

    create_app()
    gallery = SamplesGallery()
    qtbot.addWidget(gallery)
    for ev in _samples(tmp_path / "old", [10, 20, 30], 3):
        gallery.add_sample(ev)
    gallery.clear_samples()  # another run is shown while the old pictures decode
    new = _samples(tmp_path / "new", [7], 1)[0]
    gallery.add_sample(new)
    assert gallery.wait_decoded()
    qtbot.waitUntil(lambda: not gallery.item(0, 0).icon().isNull(), timeout=5000)
    qtbot.wait(50)  # the old results, queued to this thread, are dropped
    assert gallery.rowCount() == 1 and gallery.columnCount() == 1 and gallery.steps == [7]
