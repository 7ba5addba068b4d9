"""Every VRAM preset x every optimizer trains 2 steps, saves, and resumes, at the real sizes;
on the 16 GB preset (NF4, rank 32) the resumed run matches an uninterrupted one bit for bit.

The configs are the ones ``likeness train --init --preset P`` writes (``default_config``), with
the preset's LoRA rank and alpha, batch size, NF4 setting and optimizer untouched. The model is
the tiny random Z-Image at ``REAL_PATH_DIM`` = 256, so every LoRA matrix of rank >= 16 has
>= 4096 elements: bitsandbytes' 8-bit optimizers quantise their state and share one
quantisation map between parameters from that size on (the path that broke the first save).

What differs from a real run, and why it need not match:
* ``device: cpu`` and bucket 256 px: the bucket size changes the sequence length only; no
  threshold in the LoRA, optimizer or state code depends on it.
* ``sample.enabled: false``: previews are not part of saving or resuming.
* ``training_adapter.enabled: false``: the adapter is a download; its merge is tested in
  ``test_model.py``.
"""

from __future__ import annotations

import pytest

from tests.training.tiny_zimage import REAL_PATH_DIM, make_dataset, tiny_model_dir, write_config

torch = pytest.importorskip("torch")

PRESETS = ("8gb", "12gb", "16gb", "24gb")
OPTIMIZERS = ("adamw", "adamw8bit", "lion8bit", "prodigy", "adafactor")
LR = {"prodigy": 1.0}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory, dim=REAL_PATH_DIM)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("real-data") / "data")


def _nf4_works() -> bool:
    """bitsandbytes' NF4 Linear runs a forward and backward on this machine's CPU."""
    try:
        import bitsandbytes as bnb

        layer = bnb.nn.Linear4bit(64, 64, bias=False, quant_type="nf4")
        layer.weight = bnb.nn.Params4bit(torch.randn(64, 64), requires_grad=False, quant_type="nf4")
        layer = layer.to("cpu")
        x = torch.randn(2, 64, requires_grad=True)
        layer(x).sum().backward()
        return x.grad is not None
    except Exception:  # noqa: BLE001 - any failure means: not supported here
        return False


def init_config(tmp_path, model_dir, data_dir, preset: str, optimizer: str, folder: str) -> dict:
    """What ``likeness train --init --preset`` writes, pointed at the tiny model."""
    from training.config_ops import config_to_dict
    from training.presets import default_config

    cfg = config_to_dict(default_config("tiny", "t0ken", [data_dir], preset=preset))
    cfg["training_folder"] = str(tmp_path / folder)
    cfg["device"] = "cpu"
    cfg["model"].update(source="local", name_or_path=str(model_dir))
    cfg["model"]["training_adapter"]["enabled"] = False
    if cfg["model"]["quantize_transformer"] == "nf4" and not _NF4:
        cfg["model"]["quantize_transformer"] = "none"
    cfg["train"].update(steps=3, optimizer=optimizer, lr=LR.get(optimizer, 1e-4))
    cfg["save"].update(every=2)
    cfg["sample"]["enabled"] = False
    for ds in cfg["datasets"]:
        ds["resolutions"] = [256]
    return cfg


_NF4 = _nf4_works()


def _state(run_dir):
    from training import checkpoints as ckpt

    return ckpt.load_state(ckpt.latest_state(run_dir, "tiny"))


def _same(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_saves_and_resumes_exactly(tmp_path, model_dir, data_dir, preset, optimizer):
    from tests.training.test_resume import StopAt
    from training.events import ListSink
    from training.runner import run

    split = write_config(
        tmp_path / "b.yaml", init_config(tmp_path, model_dir, data_dir, preset, optimizer, "b")
    )
    stopper = StopAt(tmp_path / "b" / "tiny", at=2)
    assert run(split, resume=False, sink=stopper.sink) == 0, stopper.sink.of("error")
    assert stopper.sink.of("checkpoint_saved")[-1]["step"] == 2
    resumed = ListSink()
    assert run(split, resume=True, sink=resumed) == 0, resumed.of("error")
    assert resumed.of("started")[0]["start_step"] == 2
    assert [e["step"] for e in resumed.of("step")] == [3]

    b = _state(tmp_path / "b" / "tiny")
    assert b["step"] == 3 and b["compat"]["rank"] == {"8gb": 16}.get(preset, 32)
    assert min(v.numel() for v in b["lora"].values()) >= 4096
    if optimizer.endswith("8bit"):  # the quantised state, with its shared maps, was stored
        quant = [s["__bnb_optimizer_quant_state__"] for s in b["optimizer"]["state"].values()]
        assert quant and all(q["state1"].dtype == torch.uint8 for q in quant)
        assert all(q["qmap1"] is quant[0]["qmap1"] for q in quant)  # shared again after load
    if preset != "16gb":
        return  # exactness per optimizer is checked once, on the 16 GB preset (NF4, rank 32)
    straight = write_config(
        tmp_path / "a.yaml", init_config(tmp_path, model_dir, data_dir, preset, optimizer, "a")
    )
    sink = ListSink()
    assert run(straight, resume=False, sink=sink) == 0, sink.of("error")
    a = _state(tmp_path / "a" / "tiny")
    for key in ("lora", "optimizer", "scheduler", "step", "epoch", "pos"):
        _same(a[key], b[key], key)
    assert [e["loss"] for e in sink.of("step")][2:] == [e["loss"] for e in resumed.of("step")]
