"""Live likeness on the Train tab (issue 15 point 3): each ``sample_saved`` image scored for
identity on a worker thread, the curve drawn beside the loss.

Real photos (``../shared/data/faces``) arranged as in ``tests/training/test_grid_rank.py``: the
dataset is Obama (plus one outlier); the run's samples are Biden at step 100, new photos of
Obama at step 200, re-encoded training images (copies) at step 300. Real embedder (dlib).
"""

from __future__ import annotations

import time
from pathlib import Path
from unittest.mock import Mock

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent

from desktop.panels.train.controller import TrainController
from desktop.panels.train.likeness import LikenessFeed, LikenessScorer, hover_text
from desktop.panels.train.page import TrainPage
from tests.training.test_grid_rank import fake_grid  # noqa: F401 - a fixture
from training import protocol as p
from training.run_history import RunHistory

ROWS = ((100, "run_000000500"), (200, "run_000001000"), (300, "run_000001500"))


def _events(grid: Path) -> list[p.SampleSaved]:
    out = []
    for step, row in ROWS:
        for i, name in enumerate(sorted((grid / row).glob("*.png"))):
            out.append(p.SampleSaved(step=step, index=i, seed=42 + i, path=str(name)))
    return out


def test_feed_scores_the_same_person_above_another_and_flags_copies(fake_grid):  # noqa: F811
    grid, data = fake_grid
    feed = LikenessFeed()
    gen = feed.reset(data)
    for ev in _events(grid):
        assert feed.add(ev.path, ev.step)
    assert not feed.add(ev.path, ev.step)  # a replayed event is not scored twice
    out = None
    while feed.pending:
        out = feed.score_next() or out
    assert out is not None
    got_gen, curve, note = out
    assert got_gen == gen and note == ""
    by = {c["step"]: c for c in curve}
    assert set(by) == {100, 200, 300}
    assert by[200]["identity"] > by[100]["identity"] + 0.1
    assert by[100]["copy"] == 0 and by[200]["copy"] == 0 and by[300]["copy"] == 1.0
    feed.close()


def test_errors_are_a_note_not_a_crash(tmp_path, fake_grid):  # noqa: F811
    _grid, data = fake_grid
    bad = tmp_path / "0_1.png"
    bad.write_bytes(b"not a png")
    feed = LikenessFeed()
    feed.reset(data)
    feed.add(str(bad), 10)
    _gen, curve, note = feed.score_next()  # type: ignore[misc]
    assert curve == [] and "1 sample(s) unreadable (0_1.png)" in note

    feed.close()

    def no_embedder(*_args):
        raise RuntimeError("no face embedder installed")

    feed = LikenessFeed(no_embedder)
    feed.reset(data)
    feed.add(str(bad), 10)
    _gen, curve, note = feed.score_next()  # type: ignore[misc]
    assert curve == [] and "no face embedder installed" in note


def test_stale_results_of_a_previous_run_are_dropped(qtbot, fake_grid):  # noqa: F811
    grid, data = fake_grid
    scorer = LikenessScorer()
    got: list[list] = []
    scorer.updated.connect(lambda curve, _note: got.append(curve))
    evs = _events(grid)
    for ev in evs[:4]:
        scorer.add(ev.path, ev.step)
    scorer.reset(data)  # no dataset before: nothing was queued; now a new run
    assert got == [[]]
    scorer.add(evs[0].path, evs[0].step)
    qtbot.waitUntil(lambda: len(got) > 1 and scorer.idle, timeout=60000)
    assert [c["step"] for c in got[-1]] == [100]
    scorer.stop()
    scorer.add(evs[1].path, evs[1].step)  # after stop: ignored
    assert scorer.feed.pending == 0


def test_train_tab_charts_likeness_as_samples_arrive_without_stalling(
    qtbot,
    fake_grid,  # noqa: F811
    screenshot_dir,
):
    grid, data = fake_grid
    page = TrainPage()
    qtbot.addWidget(page)
    page.resize(1400, 800)
    page.show()
    qtbot.waitExposed(page)
    page.dataset = data
    ctl = TrainController(page, Mock())
    ctl.hist = RunHistory(name="run", run_dir=grid, total_steps=400)
    page.show_live(ctl.hist)
    chart = page.likeness_chart

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    events = _events(grid)
    for ev in events:  # fake sample_saved events, as the trainer sends them
        ctl.on_event(ev)
    # (the gallery decodes these multi-megapixel PNGs on the GUI thread: not measured here)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    last[0] = time.perf_counter()
    timer.start()
    steps_seen: list[list[int]] = []
    page.likeness.updated.connect(lambda c, _n: steps_seen.append([x["step"] for x in c]))
    qtbot.waitUntil(
        lambda: [c["step"] for c in chart.points] == [100, 200, 300] and page.likeness.idle,
        timeout=120000,
    )
    timer.stop()
    # points arrive one sample at a time, step by step
    assert steps_seen[0] == [100] and steps_seen[-1] == [100, 200, 300]
    assert len(steps_seen) >= len(events) - 1
    # the GUI thread kept ticking while ~12 samples were scored (the dataset measured too)
    assert len(gaps) > 20
    assert max(gaps) < 0.25, f"the GUI stalled {max(gaps):.3f} s"
    by = {c["step"]: c for c in chart.points}
    assert by[200]["identity"] > by[100]["identity"] and by[300]["copy"] == 1.0
    # hover: the values under the mouse
    x = chart._x(200)
    move = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        QPointF(x, 40),
        QPointF(chart.mapToGlobal(QPoint(int(x), 40))),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    chart.mouseMoveEvent(move)
    assert chart.hover is not None and chart.hover["step"] == 200
    assert hover_text(chart.hover).startswith("step 200: likeness 0.")
    page.grab().save(str(screenshot_dir / "train_likeness.png"))
    page.likeness.stop()


def test_a_finished_run_reopened_scores_its_existing_samples(qtbot, tmp_path):
    """``show_run`` replays the run's samples from ``events.jsonl``: each is scored once."""
    import json

    from training.protocol import EVENTS_FILE

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    lines = [{"event": "started", "total_steps": 20, "start_step": 0}]
    for step in (10, 20):
        for i in range(2):
            path = run / "samples" / str(step) / f"{i}_{42 + i}.png"
            lines.append({"event": "sample_saved", "step": step, "index": i, "path": str(path)})
    lines.append({"event": "done", "step": 20})
    (run / EVENTS_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")
    page = TrainPage()
    qtbot.addWidget(page)
    page.dataset = tmp_path / "dataset"
    scored: list[tuple[str, int]] = []

    def fake_score(dataset, run_key, path, step):
        assert dataset == page.dataset
        scored.append((Path(path).name, step))
        curve = sorted({s for _n, s in scored})
        return [{"step": s, "identity": s / 40, "copy": 0.0} for s in curve], ""

    page.likeness.feed.score = fake_score
    ctl = TrainController(page, Mock())
    ctl.show_run(run)
    qtbot.waitUntil(lambda: len(page.likeness_chart.points) == 2 and page.likeness.idle)
    assert sorted(scored) == [
        ("0_42.png", 10),
        ("0_42.png", 20),
        ("1_43.png", 10),
        ("1_43.png", 20),
    ]
    assert [c["step"] for c in page.likeness_chart.points] == [10, 20]
    ctl.show_run(run)  # reopened: a new run object, scored afresh (and only once each)
    qtbot.waitUntil(lambda: len(scored) == 8 and page.likeness.idle)
    page.likeness.stop()
