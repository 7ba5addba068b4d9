"""Florence-2 backend on a tiny Florence-2 built offline (tests/curation/tiny_florence.py).

The model folder is written with ``save_pretrained`` and loaded through the app's real
loading path (``resolve_model`` + ``Florence2Captioner.load``); generation, post-processing
and cleaning all run for real.
"""

from __future__ import annotations

import gc
import shutil
import weakref
from pathlib import Path

import pytest
from PIL import Image

from curation.captioners.base import TASKS, Captioner, CaptionerError, ModelNotAvailableError
from curation.captioners.download import resolve_model
from curation.captioners.florence2 import Florence2Captioner
from curation.captions import clean_caption
from curation.jobs import CancelToken
from tests.curation.tiny_florence import TAUGHT, tiny_florence_folder


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_florence_folder(taught=True)


@pytest.fixture(scope="session")
def captioner(tiny_model):
    cap = Florence2Captioner(str(tiny_model), device="cpu", num_beams=1, max_new_tokens=60)
    cap.load()
    yield cap
    cap.unload()


@pytest.fixture
def images(tmp_path) -> list[Path]:
    paths = []
    for i, size in enumerate([(120, 160), (300, 200), (64, 64)]):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", size, (40 * i, 120, 200)).save(p)
        paths.append(p)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    return [paths[0], bad, paths[1], paths[2]]


def test_is_a_captioner(captioner):
    assert isinstance(captioner, Captioner) and captioner.loaded
    assert captioner.device == "cpu" and str(captioner.dtype) == "torch.float32"


def test_end_to_end_generate_postprocess_clean(captioner, images):
    seen = []
    results = captioner.caption(
        images,
        "<MORE_DETAILED_CAPTION>",
        detect_objects=True,
        batch_size=2,
        on_progress=lambda d, t, m: seen.append((d, t)),
    )
    assert [r.path for r in results] == [str(p) for p in images]
    assert results[1].error and "not an image" in results[1].error
    for r in (results[0], results[2], results[3]):
        assert r.ok, r.error
        assert r.value.text == TAUGHT["<MORE_DETAILED_CAPTION>"]
        assert r.value.objects == ["earrings", "woman"]
    # boxes come back in the original image's pixels (300x200 image, <loc_100>.. bins)
    assert results[2].value.boxes[0] == [30.0, 40.0, 90.0, 80.0]
    assert seen[-1] == (4, 4)
    cleaned = clean_caption(results[0].value.text, "l3yla", shot="medium")
    assert cleaned.text == (
        "a medium shot photo of l3yla, standing, wearing a white shirt, gold earrings, "
        "in front of a white wall"
    )
    assert {r.phrase for r in cleaned.removed} >= {"young", "long dark hair", "brown eyes"}


def test_all_tasks_run(captioner, images):
    for task in TASKS:
        (result,) = captioner.caption(images[:1], task)
        assert result.ok and isinstance(result.value.text, str)
    with pytest.raises(CaptionerError, match="unknown task"):
        captioner.caption(images[:1], "<OCR>")


def test_a_failing_batch_is_retried_image_by_image(captioner, images, monkeypatch):
    real = captioner._generate

    def flaky(pil, task, sizes):
        if any(s == (300, 200) for s in sizes):
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(pil, task, sizes)

    monkeypatch.setattr(captioner, "_generate", flaky)
    results = captioner.caption([images[0], images[2], images[3]], "<CAPTION>", batch_size=3)
    assert results[0].ok and results[2].ok
    assert "out of memory" in results[1].error


def test_cancel_stops_between_batches(captioner, images):
    token = CancelToken()
    token.cancel()
    results = captioner.caption(images, "<CAPTION>", cancel=token)
    assert all(r.error == "cancelled" for r in results)


def test_unload_frees_the_model(tiny_model):
    cap = Florence2Captioner(str(tiny_model), device="cpu")
    cap.load()
    ref = weakref.ref(cap._model)
    cap.unload()
    gc.collect()
    assert not cap.loaded and ref() is None


def test_random_weight_model_runs_too(tmp_path):
    from tests.curation.tiny_florence import build_tiny_florence

    folder = build_tiny_florence(tmp_path / "random")
    cap = Florence2Captioner(str(folder), device="cpu", num_beams=2, max_new_tokens=8)
    img = tmp_path / "a.png"
    Image.new("RGB", (50, 40)).save(img)
    (res,) = cap.caption([img], "<DETAILED_CAPTION>", detect_objects=True)
    assert res.ok and isinstance(res.value.text, str) and isinstance(res.value.objects, list)
    cap.unload()


def test_offline_without_the_model_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="model not found locally and no network"):
        resolve_model("base")
    cap = Florence2Captioner("large", device="cpu")
    with pytest.raises(ModelNotAvailableError, match="Florence-2-large"):
        cap.load()


def test_the_hf_cache_is_used_when_the_model_is_there(tiny_model, tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    repo = hub / "models--florence-community--Florence-2-base"
    commit = "0" * 40
    shutil.copytree(tiny_model, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert resolve_model("base") == repo / "snapshots" / commit


def test_download_reports_progress_and_network_errors(monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = []

    def fake_download(repo_id, *, allow_patterns=None, local_files_only=False, tqdm_class=None):
        if local_files_only:
            raise FileNotFoundError("not cached")
        assert "*.safetensors" in allow_patterns and not any("bin" in p for p in allow_patterns)
        bar = tqdm_class(total=3)
        for _ in range(3):
            bar.update(1)
        bar.close()
        return "/models/downloaded"

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    path = resolve_model("base", on_progress=lambda d, t, m: calls.append((d, t, m)))
    assert str(path) == "/models/downloaded"
    assert calls[-1][:2] == (3, 3) and "florence-community/Florence-2-base" in calls[-1][2]

    def offline(repo_id, **kw):
        raise OSError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(ModelNotAvailableError, match="no network.*Name or service"):
        resolve_model("large")


def test_bad_local_folders(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="not found"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CaptionerError, match="cannot load Florence-2"):
        Florence2Captioner(str(tmp_path), device="cpu").load()


def test_cuda_request_without_gpu_is_an_error(tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(CaptionerError, match="no CUDA GPU"):
        Florence2Captioner(str(tiny_model), device="cuda").load()


@pytest.mark.gpu
def test_cuda_runs_in_half_precision_and_unload_frees_gpu_memory(tiny_model, images):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    cap = Florence2Captioner(str(tiny_model), device="auto", num_beams=1, max_new_tokens=60)
    cap.load()
    assert cap.device == "cuda" and cap.dtype in (torch.bfloat16, torch.float16)
    results = cap.caption(images, "<MORE_DETAILED_CAPTION>", batch_size=4)
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[0].value.text.startswith("The image shows")  # bf16 may alter the tail
    before = torch.cuda.memory_allocated()
    cap.unload()
    assert torch.cuda.memory_allocated() < before
