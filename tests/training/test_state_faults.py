"""A damaged or edited resumable state is ``resume_failed`` naming the file (and the previous
complete state), never an internal error; a full disk at any write of a save is ``disk_full``
and leaves the newest complete state; 8-bit optimizer states save at the sizes where
bitsandbytes quantises them (rank 32 x 128 = 4096 elements: its ``min_8bit_size``)."""

from __future__ import annotations

import errno
import json

import pytest

torch = pytest.importorskip("torch")


def _two_states(run_dir):
    from training import train_state

    for step in (1, 2):
        train_state.save_state(run_dir, "run", step, {"step": step, "x": torch.ones(3) * step})
    return train_state.state_dir(run_dir, "run", 1), train_state.state_dir(run_dir, "run", 2)


def _tamper_json(path, fn):
    meta = json.loads((path / "state.json").read_text())
    fn(meta)
    (path / "state.json").write_text(json.dumps(meta))


DAMAGE = {
    "truncated json": lambda p: (p / "state.json").write_text((p / "state.json").read_text()[:20]),
    "json not an object": lambda p: (p / "state.json").write_text("[1, 2]"),
    "empty json": lambda p: (p / "state.json").write_text(""),
    "binary json": lambda p: (p / "state.json").write_bytes(b"\xff\xfe\x00garbage"),
    "deep json": lambda p: (p / "state.json").write_text("[" * 100_000 + "]" * 100_000),
    "negative step": lambda p: _tamper_json(p, lambda m: m.update(step=-5)),
    "huge step": lambda p: _tamper_json(p, lambda m: m.update(step=10**30)),
    "boolean step": lambda p: _tamper_json(p, lambda m: m.update(step=True)),
    "step of another folder": lambda p: _tamper_json(p, lambda m: m.update(step=1)),
    "other version": lambda p: _tamper_json(p, lambda m: m.update(version=99)),
    "missing tensor": lambda p: _tamper_json(
        p, lambda m: m["tree"]["__dict__"][1].__setitem__(1, {"__tensor__": "nope"})
    ),
    "unknown tag": lambda p: _tamper_json(
        p, lambda m: m["tree"]["__dict__"][1].__setitem__(1, {"__pickle__": "x"})
    ),
    "truncated tensors": lambda p: (p / "state.safetensors").write_bytes(
        (p / "state.safetensors").read_bytes()[:30]
    ),
    "tensors not safetensors": lambda p: (p / "state.safetensors").write_bytes(b"\x80\x04K."),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_state_is_resume_failed_naming_the_file_and_the_previous_state(tmp_path, damage):
    from training import train_state
    from training.errors import ResumeError

    older, newest = _two_states(tmp_path)
    DAMAGE[damage](newest)
    with pytest.raises(ResumeError) as info:
        path = train_state.latest_state(tmp_path, "run")
        assert path == newest
        train_state.peek_step(path, tmp_path, "run")
        train_state.load_state(path, tmp_path, "run")
    message = info.value.message
    assert str(newest) in message and "state." in message, message
    assert str(older) in message and "previous complete state" in message
    assert len(message) < 2000  # a sentence, not a dump
    assert info.value.code == "resume_failed" and info.value.exit_status == 7


def test_a_state_folder_missing_a_file_is_not_the_newest(tmp_path):
    from training import train_state

    older, newest = _two_states(tmp_path)
    (newest / "state.safetensors").unlink()
    assert train_state.latest_state(tmp_path, "run") == older
    (newest / "state.safetensors").symlink_to(older / "state.safetensors")
    assert train_state.latest_state(tmp_path, "run") == older  # symlinks do not count


def test_only_state_without_previous_says_start_over(tmp_path):
    from training import train_state
    from training.errors import ResumeError

    train_state.save_state(tmp_path, "run", 3, {"step": 3})
    path = train_state.latest_state(tmp_path, "run")
    (path / "state.json").write_text("{")
    with pytest.raises(ResumeError, match="no earlier complete state"):
        train_state.load_state(path, tmp_path, "run")


@pytest.mark.parametrize("kind", ["AdamW8bit", "Lion8bit"])
def test_bitsandbytes_quantised_state_saves_and_loads_shared_maps(tmp_path, kind):
    """rank 32 x dim 128: exactly bitsandbytes' ``min_8bit_size`` (4096), where it quantises
    the state and shares ``qmap`` tensors between parameters (safetensors refuses those)."""
    bnb = pytest.importorskip("bitsandbytes")
    from training import train_state

    params = [torch.nn.Parameter(torch.randn(32, 128)), torch.nn.Parameter(torch.randn(128, 32))]
    opt = getattr(bnb.optim, kind)(params, lr=1e-3)
    for _ in range(2):
        (params[0].pow(2).sum() + params[1].pow(2).sum()).backward()
        opt.step()
        opt.zero_grad()
    saved = opt.state_dict()
    quant = [s["__bnb_optimizer_quant_state__"] for s in saved["state"].values()]
    assert quant[0]["qmap1"] is quant[1]["qmap1"]  # the case that broke the first save
    path = train_state.save_state(tmp_path, "run", 2, {"optimizer": saved})
    back = train_state.load_state(path)["optimizer"]
    again = getattr(bnb.optim, kind)(
        [torch.nn.Parameter(p.detach().clone()) for p in params], lr=1e-3
    )
    again.load_state_dict(back)
    for a, b in zip(
        opt.state_dict()["state"].values(), again.state_dict()["state"].values(), strict=True
    ):
        qa, qb = a["__bnb_optimizer_quant_state__"], b["__bnb_optimizer_quant_state__"]
        assert set(qa) == set(qb) and all(torch.equal(qa[k], qb[k]) for k in qa)


def test_views_of_one_storage_are_stored_apart(tmp_path):
    from training import train_state

    base = torch.arange(8.0)
    path = train_state.save_state(tmp_path, "run", 1, {"a": base[:4], "b": base[4:], "c": base})
    back = train_state.load_state(path)
    assert back["a"].tolist() == [0, 1, 2, 3] and back["b"].tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize("fail_at", [1, 2, 3])  # state tensors, state.json, the LoRA
def test_full_disk_at_any_write_of_a_state_save_keeps_the_previous_state(
    tmp_path, monkeypatch, fail_at
):
    """Every os-level write of save_state + save_lora, in order, hits a full disk."""
    from training import checkpoints, fileio, train_state
    from training.errors import DiskFullError

    older, _ = _two_states(tmp_path)
    train_state.save_state(tmp_path, "run", 2, {"step": 2})
    real, calls = fileio._write_all, {"n": 0}

    def writer(fd, data):
        calls["n"] += 1
        if calls["n"] >= fail_at:
            if calls["n"] == fail_at:
                real(fd, bytes(data)[:5])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(fileio, "_write_all", writer)
    with pytest.raises(DiskFullError, match="--resume"):
        train_state.save_state(tmp_path, "run", 3, {"step": 3, "x": torch.ones(2)})
        checkpoints.save_lora(tmp_path, "run_000000003", {"w": torch.ones(2)}, {})
        pytest.fail("the full disk went unnoticed")
    assert calls["n"] == fail_at  # nothing is written after the first failure
    newest = train_state.latest_state(tmp_path, "run")
    assert newest.name == ("run_000000003" if fail_at == 3 else "run_000000002")
    assert train_state.load_state(newest)["step"] == int(newest.name[-1])
    left = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert left == [], left
