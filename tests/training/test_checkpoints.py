"""Checkpoint files: ComfyUI keys, alpha, atomic writes, keep-last, the no-pickle state."""

from __future__ import annotations

import errno

import pytest

torch = pytest.importorskip("torch")


def _peft_state(layers=2):
    g = torch.Generator().manual_seed(0)
    out = {}
    for n in range(layers):
        for mod in (
            "attention.to_q",
            "attention.to_out.0",
            "feed_forward.w2",
            "adaLN_modulation.0",
        ):
            out[f"layers.{n}.{mod}.lora_A.weight"] = torch.randn(4, 32, generator=g)
            out[f"layers.{n}.{mod}.lora_B.weight"] = torch.randn(32, 4, generator=g)
    return out


def test_comfy_keys_dtype_and_alpha():
    from training.checkpoints import comfy_lora_state_dict

    sd = comfy_lora_state_dict(_peft_state(), rank=4, alpha=4, dtype=torch.bfloat16)
    assert "diffusion_model.layers.0.attention.to_q.lora_A.weight" in sd
    assert "diffusion_model.layers.1.attention.to_out.0.lora_B.weight" in sd
    assert not any(k.endswith(".alpha") for k in sd)
    assert {v.dtype for v in sd.values()} == {torch.bfloat16}

    sd = comfy_lora_state_dict(_peft_state(), rank=4, alpha=2, dtype=torch.float16)
    alphas = {k: v for k, v in sd.items() if k.endswith(".alpha")}
    assert len(alphas) == 8 and all(float(v) == 2.0 for v in alphas.values())
    assert "diffusion_model.layers.0.adaLN_modulation.0.alpha" in alphas


def test_saved_lora_loads_with_the_right_scale_through_diffusers_conversion():
    """diffusers folds alpha/rank into the weights when it reads `.alpha` keys."""
    from diffusers.loaders.lora_conversion_utils import (
        _convert_non_diffusers_z_image_lora_to_diffusers,
    )

    from training.checkpoints import comfy_lora_state_dict

    peft = _peft_state(1)
    sd = comfy_lora_state_dict(peft, rank=4, alpha=2, dtype=torch.float32)
    conv = _convert_non_diffusers_z_image_lora_to_diffusers(dict(sd))
    a = conv["transformer.layers.0.attention.to_q.lora_A.weight"]
    b = conv["transformer.layers.0.attention.to_q.lora_B.weight"]
    expected = (
        peft["layers.0.attention.to_q.lora_B.weight"]
        @ peft["layers.0.attention.to_q.lora_A.weight"]
        * (2 / 4)
    )
    assert torch.allclose(b @ a, expected, atol=1e-5)


def test_atomic_save_on_full_disk_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from training import checkpoints, fileio
    from training.errors import DiskFullError

    target = tmp_path / "lora.safetensors"
    checkpoints.atomic_save_safetensors({"x": torch.ones(3)}, target)
    real = fileio._write_all

    def full(fd, data):
        real(fd, bytes(data)[:7])  # a part lands in the temporary file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio, "_write_all", full)
    with pytest.raises(DiskFullError):
        checkpoints.atomic_save_safetensors({"x": torch.zeros(3)}, target)
    assert torch.equal(load_file(str(target))["x"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["lora.safetensors"]


def test_other_os_errors_are_save_errors(tmp_path, monkeypatch):
    from training import fileio
    from training.errors import SaveError

    def denied(fd, data):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fileio, "_write_all", denied)
    from training import checkpoints

    with pytest.raises(SaveError, match="Permission denied"):
        checkpoints.atomic_save_safetensors({"x": torch.ones(1)}, tmp_path / "a.safetensors")


def test_keep_last_never_removes_the_newest_and_keeps_two_states(tmp_path):
    from training import checkpoints

    for step in (100, 200, 300, 400):
        checkpoints.save_lora(
            tmp_path, checkpoints.checkpoint_name("run", step), {"x": torch.ones(1)}, {}
        )
        checkpoints.save_state(tmp_path, "run", step, {"step": step})
    (tmp_path / "run.safetensors").write_bytes(b"final")  # the final LoRA is not numbered
    (tmp_path / "other_000000100.safetensors").write_bytes(b"x")  # another run's file
    removed = checkpoints.prune(tmp_path, "run", keep_last=2)
    left = [s for s, _ in checkpoints.list_checkpoints(tmp_path, "run")]
    assert left == [300, 400]
    assert (tmp_path / "run.safetensors").exists() and (
        tmp_path / "other_000000100.safetensors"
    ).exists()
    assert checkpoints.latest_state(tmp_path, "run").name == "run_000000400"
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "run_000000300",
        "run_000000400",
    ]
    assert len(removed) == 2 + 2
    checkpoints.prune(tmp_path, "run", keep_last=0)  # still keeps the newest
    assert [s for s, _ in checkpoints.list_checkpoints(tmp_path, "run")] == [400]


def test_state_round_trip_without_pickle(tmp_path):
    import json
    import random

    import numpy as np

    from training import checkpoints

    state = {
        "step": 7,
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "opt": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 2)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0], "d": float("inf")}],
        },
        "none": None,
    }
    path = checkpoints.save_state(tmp_path, "run", 7, state)
    assert sorted(p.name for p in path.iterdir()) == ["state.json", "state.safetensors"]
    json.loads((path / "state.json").read_text())  # plain JSON
    back = checkpoints.load_state(path)
    assert back["python"] == state["python"]
    assert back["numpy"][0] == "MT19937" and np.array_equal(back["numpy"][1], state["numpy"][1])
    assert torch.equal(back["torch"], state["torch"])
    assert back["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["opt"]["param_groups"][0]["d"] == float("inf")
    assert torch.equal(back["opt"]["state"][0]["exp_avg"], state["opt"]["state"][0]["exp_avg"])
    assert 0 in back["opt"]["state"]  # int keys survive
    random.setstate(back["python"])
    np.random.set_state(back["numpy"])


def test_previous_run_files_and_moving_them_aside_deletes_nothing(tmp_path):
    from training.checkpoints import move_previous_run, previous_run_files

    run = tmp_path / "run"
    assert previous_run_files(run, "leyla") == []  # no folder yet
    (run / "state" / "leyla_000000500").mkdir(parents=True)
    (run / "state" / "leyla_000000500" / "state.json").write_text("{}")
    (run / "other_000000100.safetensors").write_bytes(b"o")  # another run name: not ours
    (run / "train.log").write_text("log")
    assert [p.name for p in previous_run_files(run, "leyla")] == ["leyla_000000500"]
    (run / "leyla_000000500.safetensors").write_bytes(b"c")
    (run / "leyla.safetensors").write_bytes(b"f")
    (run / "samples" / "500").mkdir(parents=True)
    (run / "config.yaml").write_text("name: leyla\n")
    moved = move_previous_run(run, "leyla")
    assert moved.parent == run and moved.name.startswith("previous-")
    assert (moved / "leyla_000000500.safetensors").read_bytes() == b"c"
    assert (moved / "leyla.safetensors").read_bytes() == b"f"
    assert (moved / "state" / "leyla_000000500" / "state.json").is_file()
    assert (moved / "samples" / "500").is_dir() and (moved / "config.yaml").is_file()
    assert previous_run_files(run, "leyla") == []
    assert (run / "other_000000100.safetensors").is_file() and (run / "train.log").is_file()
    (run / "leyla.safetensors").write_bytes(b"g")
    second = move_previous_run(run, "leyla")  # same second: a new folder, nothing replaced
    assert second != moved and (moved / "leyla.safetensors").read_bytes() == b"f"
