"""Whole runs under faults: full disks, damaged states, a second trainer, symlinks planted in
the run folder, hostile configs. Each ends in one error with its own code, and the run can be
resumed afterwards.

The tiny model at rank 4 is enough here: no fault path depends on tensor sizes (the sizes
that switch on quantised optimizer states are covered in ``test_real_sizes.py``).
"""

from __future__ import annotations

import errno
import json
import os

import pytest

from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def _run(path, resume=False, sink=None):
    from training.events import ListSink
    from training.runner import run

    sink = sink or ListSink()
    return run(path, resume=resume, sink=sink), sink


def _cfg(tmp_path, model_dir, steps=4, **kw):
    cfg = tiny_config(
        tmp_path, model_dir, train={"steps": steps}, save={"every": 1}, sample={"enabled": False}
    )
    cfg.update(kw)
    return write_config(tmp_path / "run.yaml", cfg)


class FullDiskAfter:
    """From the ``n``-th os-level write after step ``at`` on, the disk is full."""

    def __init__(self, monkeypatch, at: int, n: int):
        from training import fileio
        from training.events import ListSink

        self.sink, self.armed, self.count, self.n = ListSink(), False, 0, n
        real = fileio._write_all
        original = self.sink.record

        def record(rec):
            original(rec)
            if rec["event"] == "step" and rec["step"] == at:
                self.armed = True

        def writer(fd, data):
            if self.armed:
                self.count += 1
                if self.count >= self.n:
                    raise OSError(errno.ENOSPC, "No space left on device")
            real(fd, data)

        self.sink.record = record
        monkeypatch.setattr(fileio, "_write_all", writer)


@pytest.mark.parametrize("n", [1, 2, 3], ids=["state-tensors", "state-json", "lora"])
def test_full_disk_at_any_write_of_a_save_is_disk_full_and_resumable(
    tmp_path, model_dir, monkeypatch, n
):
    path = _cfg(tmp_path, model_dir)
    with monkeypatch.context() as m:
        full = FullDiskAfter(m, at=2, n=n)
        code, sink = _run(path, sink=full.sink)
    assert code == 5, sink.of("error")
    [err] = sink.of("error")
    assert err["code"] == "disk_full" and "--resume" in err["message"]
    run_dir = tmp_path / "runs" / "tiny"
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]

    code, again = _run(path, resume=True)
    assert code == 0, again.of("error")
    # the LoRA write failed after the state of step 2 was complete: resume from 2 and
    # write that step's LoRA again; otherwise the newest complete state is step 1
    assert again.of("started")[0]["start_step"] == (2 if n == 3 else 1)
    assert (run_dir / "tiny_000000002.safetensors").is_file()
    assert again.of("done")[-1]["reason"] == "finished"


def test_full_disk_outside_a_checkpoint_is_disk_full_too(tmp_path, model_dir, monkeypatch):
    from training import loop

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "samples/2/0_42.png")

    monkeypatch.setattr(loop, "render_samples", full)
    cfg = tiny_config(tmp_path, model_dir, train={"steps": 2}, save={"every": 1})
    code, sink = _run(write_config(tmp_path / "s.yaml", cfg))
    assert code == 5 and sink.of("error")[0]["code"] == "disk_full"


def test_resume_of_a_run_whose_only_save_failed_starts_over(tmp_path, model_dir):
    """LoRA files without any state (left by an older version or a full disk): --resume
    trains from step 0 instead of refusing both --resume and a fresh start."""
    path = _cfg(tmp_path, model_dir, steps=2)
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    (run_dir / "tiny_000000001.safetensors").write_bytes(b"x")
    code, sink = _run(path, resume=True)
    assert code == 0, sink.of("error")
    assert sink.of("started")[0]["start_step"] == 0
    assert any("no complete training state" in w["message"] for w in sink.of("warning"))


def test_state_that_does_not_fit_the_model_is_resume_failed(tmp_path, model_dir):
    from safetensors.torch import load_file, save_file

    path = _cfg(tmp_path, model_dir, steps=4)
    from tests.training.test_resume import StopAt

    stopper = StopAt(tmp_path / "runs" / "tiny", at=2)
    assert _run(path, sink=stopper.sink)[0] == 0
    state = tmp_path / "runs" / "tiny" / "state" / "tiny_000000002"
    tensors = load_file(str(state / "state.safetensors"))
    key = next(k for k in tensors if ".lora." in k)
    tensors[key] = torch.zeros(3, 3)
    save_file(tensors, str(state / "state.safetensors"))
    code, sink = _run(path, resume=True)
    assert code == 7
    [err] = sink.of("error")
    assert err["code"] == "resume_failed" and str(state) in err["message"]
    assert "previous complete state is" in err["message"]  # step 1 (keep_last keeps one)


def test_a_live_trainer_owns_its_run_folder(tmp_path, model_dir):
    from training.runlock import RunLock

    path = _cfg(tmp_path, model_dir, steps=1)
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    with RunLock(run_dir):  # another trainer, alive
        for resume in (False, True):
            code, sink = _run(path, resume=resume)
            assert code == 8
            [err] = sink.of("error")
            assert err["code"] == "run_locked" and f"pid {os.getpid()}" in err["message"]
            assert not sink.of("started")
    assert not (run_dir / "config.yaml").exists()  # nothing was touched
    code, sink = _run(path)  # the lock is free again
    assert code == 0, sink.of("error")


def test_stale_lock_of_a_dead_trainer_is_taken_over(tmp_path):
    from training.runlock import LOCK_FILE, RunLock

    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 2**22 + 7, "host": "x", "started": 1}))
    lock = RunLock(tmp_path).acquire()
    try:
        assert lock.stale and lock.stale["pid"] == 2**22 + 7
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_symlinks_in_the_run_folder_are_never_followed(tmp_path, model_dir):
    path = _cfg(tmp_path, model_dir, steps=2)
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("stop\nroot-only line\n")
    (run_dir / "control").symlink_to(secret)
    code, sink = _run(path)
    assert code == 0, sink.of("error")
    assert sink.of("done")[-1]["reason"] == "finished"  # the linked "stop" was not obeyed
    assert secret.read_text() == "stop\nroot-only line\n"  # untouched
    log = (run_dir / "train.log").read_text()
    assert "root-only" not in log and "ignored the control file" in log
    assert "root-only" not in (run_dir / "events.jsonl").read_text()

    elsewhere = tmp_path / "elsewhere.log"
    elsewhere.write_text("")
    (run_dir / "train.log").unlink()
    (run_dir / "train.log").symlink_to(elsewhere)
    code, sink = _run(path, resume=True)
    assert code == 5, sink.of("error")
    [err] = sink.of("error")
    assert err["code"] == "save_failed" and "train.log" in err["message"]
    assert "symlink" in err["message"] and elsewhere.read_text() == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_as_control_file_is_ignored_without_hanging(tmp_path):
    from training.runner import CommandInbox

    inbox = CommandInbox(tmp_path)
    os.mkfifo(tmp_path / "control")
    assert inbox.poll() == []  # returns: no writer is waited for
    assert not os.path.lexists(tmp_path / "control")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_run_folder_is_private(tmp_path, model_dir):
    path = _cfg(tmp_path, model_dir, steps=1)
    assert _run(path)[0] == 0
    assert (tmp_path / "runs" / "tiny").stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_another_users_control_file_and_run_folder_are_refused(tmp_path, model_dir):
    from training.runner import CommandInbox

    inbox = CommandInbox(tmp_path)
    (tmp_path / "control").write_text("stop\n")
    os.chown(tmp_path / "control", 12345, 12345)
    assert inbox.poll() == []
    assert not (tmp_path / "control").exists()

    path = _cfg(tmp_path, model_dir, steps=1)
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    os.chown(run_dir, 12345, 12345)
    code, sink = _run(path)
    assert code == 5 and "another user" in sink.of("error")[0]["message"]


def test_events_are_appended_to_events_jsonl(tmp_path, model_dir):
    path = _cfg(tmp_path, model_dir, steps=1)
    code, sink = _run(path)
    assert code == 0
    lines = (tmp_path / "runs" / "tiny" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == sink.events


@pytest.mark.parametrize("kind", ["pickled", "wrong-shape"])
def test_bad_text_encoder_file_is_model_not_found(tmp_path, model_dir, kind):
    import pickle

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "te.safetensors"
    if kind == "pickled":
        bad.write_bytes(pickle.dumps({"weight": [1, 2, 3]}))
    else:  # the right names, one weight of the wrong shape
        [real] = (model_dir / "text_encoder").glob("*.safetensors")
        weights = load_file(str(real))
        key = next(k for k in weights if k.endswith("gate_proj.weight"))
        weights[key] = torch.zeros(3, 3)
        save_file(weights, str(bad))
    cfg = tiny_config(tmp_path, model_dir, sample={"enabled": False})
    from tests.training.tiny_zimage import save_comfy_transformer

    cfg["model"] = {
        "source": "single_file",
        "name_or_path": str(model_dir),
        "transformer_file": str(save_comfy_transformer(model_dir, tmp_path / "t.safetensors")),
        "text_encoder_file": str(bad),
        "training_adapter": {"enabled": False},
    }
    code, sink = _run(write_config(tmp_path / "p.yaml", cfg))
    assert code == 3
    [err] = sink.of("error")
    assert err["code"] == "model_not_found" and str(bad) in err["message"]


def test_ten_thousand_brackets_are_a_short_config_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: x\ntrigger: t0k\ndatasets: " + "[" * 10_000 + "]" * 10_000 + "\n")
    code, sink = _run(path)
    assert code == 2
    [err] = sink.of("error")
    assert err["code"] == "config_invalid" and "nested" in err["message"]
    assert len(json.dumps(err)) < 1000


def test_huge_config_file_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n# " + "x" * (2 << 20) + "\n")
    code, sink = _run(path)
    assert code == 2 and "bytes" in sink.of("error")[0]["message"]


def test_yaml_alias_bomb_is_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nname: x\n")
    code, sink = _run(path)
    assert code == 2 and "values" in sink.of("error")[0]["message"]
