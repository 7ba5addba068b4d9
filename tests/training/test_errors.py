"""Bad input never ends in a traceback: one clear ``error`` event and a non-zero exit.

The tiny model at rank 4: no error path here depends on tensor sizes.
"""

from __future__ import annotations

import errno

import pytest

from tests.training.tiny_zimage import make_dataset, tiny_config, tiny_model_dir, write_config

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def _run(path, resume=False):
    from training.events import ListSink
    from training.runner import run

    sink = ListSink()
    code = run(path, resume=resume, sink=sink)
    return code, sink


def test_invalid_config_lists_every_bad_field(tmp_path):
    cfg = {
        "name": "bad name!",
        "trigger": "t0ken",
        "datasets": [{"folder": str(tmp_path)}],
        "train": {"lr": -1, "optimzer": "adamw"},
        "network": {"rank": 0},
    }
    code, sink = _run(write_config(tmp_path / "bad.yaml", cfg))
    assert code == 2
    [err] = sink.of("error")
    assert err["code"] == "config_invalid"
    text = "\n".join(err["details"])
    for field in ("name", "train.lr", "train.optimzer", "network.rank"):
        assert field in text, text
    assert len(err["details"]) >= 4
    assert not sink.of("started")


def test_missing_config_file_is_a_config_error(tmp_path):
    code, sink = _run(tmp_path / "nope.yaml")
    assert code == 2 and sink.of("error")[0]["code"] == "config_invalid"


@pytest.mark.parametrize("kind", ["missing", "not_zimage", "hub_not_cached"])
def test_wrong_model_path_is_one_clear_error(tmp_path, model_dir, kind):
    model = {"source": "local", "name_or_path": str(tmp_path / "nowhere")}
    if kind == "not_zimage":
        other = tmp_path / "other"
        other.mkdir()
        (other / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
        model["name_or_path"] = str(other)
    if kind == "hub_not_cached":
        model = {"source": "hub", "name_or_path": "Tongyi-MAI/Z-Image-Turbo"}
    cfg = tiny_config(tmp_path, model_dir, model={**model, "training_adapter": {"enabled": False}})
    code, sink = _run(write_config(tmp_path / "m.yaml", cfg))
    assert code == 3
    [err] = sink.of("error")
    assert err["code"] == "model_not_found"
    assert "Traceback" not in err["message"]
    assert "nowhere" in err["message"] or "Z-Image" in err["message"] or "Tongyi" in err["message"]


def test_unreadable_image_is_skipped_with_a_warning(tmp_path, model_dir):
    data = make_dataset(tmp_path / "data")
    broken = data / "2_t0ken" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (data / "2_t0ken" / "broken.txt").write_text("t0ken broken")
    cfg = tiny_config(tmp_path, model_dir, data, train={"steps": 1}, sample={"enabled": False})
    code, sink = _run(write_config(tmp_path / "w.yaml", cfg))
    assert code == 0, sink.of("error")
    skipped = [w for w in sink.of("warning") if w["code"] == "image_skipped"]
    assert len(skipped) == 1 and "broken.png" in skipped[0]["message"]
    assert sink.of("done")[0]["reason"] == "finished"


def test_empty_dataset_is_an_error(tmp_path, model_dir):
    (tmp_path / "empty").mkdir()
    cfg = tiny_config(tmp_path, model_dir, tmp_path / "empty")
    code, sink = _run(write_config(tmp_path / "e.yaml", cfg))
    assert code == 4 and sink.of("error")[0]["code"] == "dataset_invalid"


def test_full_disk_during_a_save_keeps_earlier_checkpoints(tmp_path, model_dir, monkeypatch):
    from training import checkpoints

    real = checkpoints._write_safetensors

    def writer(tensors, path, metadata):
        if "tiny_000000002" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tensors, path, metadata)

    monkeypatch.setattr(checkpoints, "_write_safetensors", writer)
    cfg = tiny_config(
        tmp_path, model_dir, train={"steps": 4}, save={"every": 1}, sample={"enabled": False}
    )
    code, sink = _run(write_config(tmp_path / "d.yaml", cfg))
    assert code == 5
    [err] = sink.of("error")
    assert err["code"] == "disk_full" and "space" in err["message"] and "--resume" in err["message"]
    run_dir = tmp_path / "runs" / "tiny"
    from safetensors.torch import load_file

    assert load_file(str(run_dir / "tiny_000000001.safetensors"))  # intact and readable
    assert not (run_dir / "tiny_000000002.safetensors").exists()
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert (run_dir / "state" / "tiny_000000001" / "state.json").exists()


def test_cuda_out_of_memory_says_what_to_do(tmp_path, model_dir, monkeypatch):
    from training import loop

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loop, "flow_matching_sample_losses", oom)
    cfg = tiny_config(tmp_path, model_dir, sample={"enabled": False})
    code, sink = _run(write_config(tmp_path / "o.yaml", cfg))
    assert code == 6
    [err] = sink.of("error")
    assert err["code"] == "out_of_memory"
    assert "NF4" in err["message"] and "resolution" in err["message"]


def test_resume_without_state_is_an_error(tmp_path, model_dir):
    cfg = tiny_config(tmp_path, model_dir)
    code, sink = _run(write_config(tmp_path / "r.yaml", cfg), resume=True)
    assert code == 7 and sink.of("error")[0]["code"] == "resume_failed"


def test_unexpected_exception_is_an_internal_error_event(tmp_path, model_dir, monkeypatch):
    from training import loop

    monkeypatch.setattr(loop, "build_optimizer", lambda *a: 1 / 0)
    cfg = tiny_config(tmp_path, model_dir, sample={"enabled": False})
    code, sink = _run(write_config(tmp_path / "i.yaml", cfg))
    assert code == 1
    [err] = sink.of("error")
    assert err["code"] == "internal" and "ZeroDivisionError" in err["message"]
