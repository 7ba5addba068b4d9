"""Stop + ``--resume`` continues exactly: same step, same LoRA weights, same optimizer state.

Rank 4 on the tiny model: these tests are about data order, RNG and accumulation, which do
not depend on sizes. Every preset and optimizer at its real rank, with bitsandbytes' quantised
states switched on, is in ``test_real_sizes.py``.
"""

from __future__ import annotations

import pytest

from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


class StopAt:
    """An event sink that sends ``stop`` through the control file after a given step."""

    def __init__(self, run_dir, at: int):
        from training.events import ListSink

        self.sink = ListSink()
        self.run_dir = run_dir
        self.at = at
        original = self.sink.record

        def record(rec):
            original(rec)
            if rec["event"] == "step" and rec["step"] == self.at:
                (self.run_dir / "control").write_text("stop\n", encoding="utf-8")

        self.sink.record = record


def _final_state(run_dir):
    from training import checkpoints as ckpt

    return ckpt.load_state(ckpt.latest_state(run_dir, "tiny"))


def _assert_same(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a, b), f"{path} differs by {float((a.float() - b.float()).abs().max())}"
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize(
    "train",
    [
        {
            "optimizer": "adamw",
            "caption_dropout": 0.3,
            "gradient_accumulation": 2,
            "scheduler": "cosine",
            "ema": {"enabled": True, "decay": 0.9},
        },
        {"optimizer": "adamw8bit", "batch_size": 2, "timestep_sampling": "shift"},
    ],
    ids=["adamw-accum-ema", "adamw8bit-batch2"],
)
def test_stop_then_resume_matches_an_uninterrupted_run(model_dir, tmp_path, train):
    from training.events import ListSink
    from training.runner import run

    common = {
        "train": {"steps": 4, "lr": 1e-3, **train},
        "save": {"every": 100, "keep_last": 2},
        "sample": {"enabled": False},
        "network": {"rank": 4, "alpha": 4, "dropout": 0.1},
        "datasets": [{"folder": str(tmp_path / "data"), "resolutions": [256], "flip_x": True}],
    }
    from tests.training.tiny_zimage import make_dataset

    make_dataset(tmp_path / "data")

    straight_cfg = tiny_config(
        tmp_path, model_dir, tmp_path / "data", training_folder=str(tmp_path / "a"), **common
    )
    sink = ListSink()
    assert run(write_config(tmp_path / "a.yaml", straight_cfg), resume=False, sink=sink) == 0
    straight = _final_state(tmp_path / "a" / "tiny")

    split_cfg = tiny_config(
        tmp_path, model_dir, tmp_path / "data", training_folder=str(tmp_path / "b"), **common
    )
    split_yaml = write_config(tmp_path / "b.yaml", split_cfg)
    stopper = StopAt(tmp_path / "b" / "tiny", at=2)
    assert run(split_yaml, resume=False, sink=stopper.sink) == 0
    done = stopper.sink.of("done")[-1]
    assert done["reason"] == "stopped" and done["step"] == 2 and done["final_path"] is None
    assert stopper.sink.of("checkpoint_saved")[-1]["step"] == 2
    assert not (tmp_path / "b" / "tiny" / "control").exists()  # the command was consumed

    resumed = ListSink()
    assert run(split_yaml, resume=True, sink=resumed) == 0, resumed.of("error")
    started = resumed.of("started")[0]
    assert started["resumed"] is True and started["start_step"] == 2
    assert [e["step"] for e in resumed.of("step")] == [3, 4]
    assert resumed.of("done")[-1]["reason"] == "finished"

    split = _final_state(tmp_path / "b" / "tiny")
    assert split["step"] == straight["step"] == 4
    _assert_same(straight["lora"], split["lora"], "lora")
    _assert_same(straight["optimizer"], split["optimizer"], "optimizer")
    _assert_same(straight["scheduler"], split["scheduler"], "scheduler")
    _assert_same(straight["ema"], split["ema"], "ema")
    assert (straight["epoch"], straight["pos"]) == (split["epoch"], split["pos"])
    # the losses of steps 3-4 are the same numbers too
    straight_losses = [e["loss"] for e in sink.of("step")][2:]
    assert straight_losses == [e["loss"] for e in resumed.of("step")]


def test_resume_refuses_a_changed_network(model_dir, tmp_path):
    from training.events import ListSink
    from training.runner import run

    cfg = tiny_config(
        tmp_path, model_dir, train={"steps": 3}, save={"every": 1}, sample={"enabled": False}
    )
    path = write_config(tmp_path / "c.yaml", cfg)
    stopper = StopAt(tmp_path / "runs" / "tiny", at=1)
    assert run(path, resume=False, sink=stopper.sink) == 0
    cfg["network"] = {"rank": 8, "alpha": 8}
    write_config(path, cfg)
    sink = ListSink()
    assert run(path, resume=True, sink=sink) == 7
    err = sink.of("error")[-1]
    assert err["code"] == "resume_failed" and "rank" in err["message"]
