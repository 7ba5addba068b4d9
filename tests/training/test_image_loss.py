"""The per-image loss aggregator (``training.image_loss``) on synthetic step events."""

from __future__ import annotations

import json
import random

from training import protocol as p
from training.image_loss import ImageLoss
from training.run_history import load_history


def _base(t: float) -> float:
    return 0.05 + 0.5 * t  # loss grows with the noise level, as in flow matching


def _events(n_steps: int = 400, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    images = [f"img_{i:02d}.jpg" for i in range(10)]
    out = []
    for step in range(1, n_steps + 1):
        items = []
        for image in rng.sample(images, 2):
            t = rng.random()
            factor = 3.0 if image == "img_07.jpg" else 1.0
            items.append(
                {"image": image, "loss": _base(t) * factor * rng.uniform(0.9, 1.1), "t": t}
            )
        # an ordinary image that is only ever seen at high noise
        t = rng.uniform(0.9, 1.0)
        items.append({"image": "noisy_only.jpg", "loss": _base(t) * rng.uniform(0.9, 1.1), "t": t})
        out.append({"event": "step", "step": step, "loss": 0.1, "items": items})
    return out


def test_an_image_with_three_times_the_loss_is_hardest():
    agg = ImageLoss()
    for ev in _events():
        agg.add_items(p.event_from_dict(ev).items)
    top = agg.hardest(3)
    assert top[0].image == "img_07.jpg"
    assert 2.0 < top[0].relative < 3.5
    assert top[0].count > 50
    ordinary = agg.score("img_01.jpg")
    assert ordinary is not None and 0.7 < ordinary.relative < 1.2


def test_timesteps_are_normalised_high_noise_alone_is_not_hard():
    agg, raw = ImageLoss(), {}
    for ev in _events():
        for it in ev["items"]:
            raw.setdefault(it["image"], []).append(it["loss"])
        agg.add_items(ev["items"])
    mean = {k: sum(v) / len(v) for k, v in raw.items()}
    # by raw loss, the high-noise-only image looks harder than every ordinary image ...
    ordinary = [k for k in mean if k not in ("noisy_only.jpg", "img_07.jpg")]
    assert all(mean["noisy_only.jpg"] > 1.5 * mean[k] for k in ordinary)
    # ... against its timesteps it is ordinary
    noisy = agg.score("noisy_only.jpg")
    assert noisy is not None and 0.8 < noisy.relative < 1.2
    assert agg.hardest(1)[0].image == "img_07.jpg"
    assert noisy.relative < 0.5 * agg.hardest(1)[0].relative


def test_malformed_items_are_skipped_and_version_moves():
    agg = ImageLoss()
    agg.add_items([{"image": "a.jpg"}, {"image": "b.jpg", "loss": "x", "t": 0.2}])
    agg.add_items([{"image": "c.jpg", "loss": float("nan"), "t": 0.2}])
    assert len(agg) == 0 and agg.version == 0 and agg.hardest() == []
    agg.add_items([{"image": "a.jpg", "loss": 0.2, "t": 1.0}])  # t = 1 falls in the last bin
    assert agg.version == 1 and agg.score("a.jpg") == agg.hardest(1)[0]


def test_rebuilt_from_events_jsonl_on_reattach(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = [{"event": "started", "protocol": 1, "name": "run", "run_dir": str(run),
               "device": "cpu", "total_steps": 400, "start_step": 0, "resumed": False},
              *_events()]  # fmt: skip
    (run / p.EVENTS_FILE).write_text("".join(json.dumps(e) + "\n" for e in events))
    hist = load_history(run)
    live = ImageLoss()
    for ev in _events():
        live.add_items(ev["items"])
    assert hist.image_loss.hardest(5) == live.hardest(5)
    assert hist.image_loss.hardest(1)[0].image == "img_07.jpg"


def test_a_resumed_runs_replayed_steps_count_once(tmp_path):
    """Stopped after step 260 with its last state at step 200: the resumed trainer sends steps
    201-400 again. The history (live or rebuilt) counts each step once, like a run that never
    stopped."""
    events = _events()
    first, replay = events[:260], events[200:]
    other = _events(seed=1)  # the replay draws other images and timesteps than the first try
    replay = [
        {**ev, "items": other[ev["step"] - 1]["items"]} if ev["step"] <= 260 else ev
        for ev in replay
    ]
    run = tmp_path / "run"
    run.mkdir()
    started = {"event": "started", "protocol": 1, "name": "run", "run_dir": str(run),
               "device": "cpu", "total_steps": 400, "start_step": 0, "resumed": False}  # fmt: skip
    resumed = {**started, "start_step": 200, "resumed": True}
    lines = [started, *first, resumed, *replay]
    (run / p.EVENTS_FILE).write_text("".join(json.dumps(e) + "\n" for e in lines))
    hist = load_history(run)
    clean = ImageLoss()
    for ev in events[:200] + replay:
        clean.add_items(ev["items"])
    got = hist.image_loss
    assert got.hardest(20) == clean.hardest(20)
    assert sum(s.count for s in got.hardest(20)) == 400 * 3  # 3 samples a step, each once
    twice = ImageLoss()  # what counting the replay again would give
    for ev in first + replay:
        twice.add_items(ev["items"])
    assert sum(s.count for s in twice.hardest(20)) == 460 * 3 != 400 * 3
    # live, event by event, the same
    live = ImageLoss()
    for ev in lines:
        if ev["event"] == "step":
            live.add_step(ev["step"], ev["items"])
    assert live.hardest(20) == clean.hardest(20)
