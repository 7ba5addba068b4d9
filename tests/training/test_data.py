"""Training data: buckets, dataset reading, epoch order, latent and text-embedding caches."""

from __future__ import annotations

import pytest

from tests.training.tiny_zimage import make_dataset, tiny_config, tiny_model_dir


@pytest.mark.parametrize(
    ("size", "res"),
    [
        ((1024, 1024), 1024),
        ((832, 1216), 1024),
        ((4000, 3000), 768),
        ((600, 2400), 512),
        ((5000, 500), 512),
        ((513, 777), 768),
    ],
)
def test_buckets_are_multiples_of_16_area_matched_and_aspect_close(size, res):
    import math

    from training.data import MAX_ASPECT, bucket_for

    w, h = bucket_for(*size, res)
    assert w % 16 == 0 and h % 16 == 0
    assert abs(w * h / (res * res) - 1) < 0.08
    aspect = min(max(size[0] / size[1], 1 / MAX_ASPECT), MAX_ASPECT)
    assert abs(math.log((w / h) / aspect)) < 0.06
    assert bucket_for(1000, 1000, 1024) == (1024, 1024)


def _cfg(tmp_path, data, **kw):
    from training.config import validate_config

    raw = tiny_config(tmp_path, tmp_path / "model", data, **kw)
    return validate_config(raw)


def test_collect_examples_reads_captions_repeats_and_skips_bad_images(tmp_path):
    from PIL import Image

    from training.data import collect_examples
    from training.events import ListSink

    data = make_dataset(tmp_path / "data", count=3)
    sub = data / "2_t0ken"
    (sub / "img1.txt").unlink()  # no caption -> the trigger alone
    (sub / "img2.txt").write_text("[trigger] smiling,   outdoors", encoding="utf-8")
    (sub / "img0.txt").write_text("a woman standing", encoding="utf-8")  # no trigger
    (sub / "bad.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 20)
    Image.new("RGB", (100, 100)).save(sub / "small.png")  # below every resolution
    cfg = _cfg(tmp_path, data, datasets=[{"folder": str(data), "resolutions": [256, 512]}])
    sink = ListSink()
    examples = collect_examples(cfg, sink)
    by_name = {}
    for ex in examples:
        by_name.setdefault(ex.path.name, []).append(ex)
    assert "bad.jpg" not in by_name
    assert [w["code"] for w in sink.of("warning")].count("image_skipped") == 1
    assert by_name["img1.png"][0].caption == "t0ken"
    assert by_name["img2.png"][0].caption == "t0ken smiling, outdoors"
    assert by_name["img0.png"][0].caption == "t0ken, a woman standing"
    assert any("do not contain the trigger" in w["message"] for w in sink.of("warning"))
    assert all(ex.repeats == 2 for ex in examples)  # kohya folder 2_t0ken
    assert [ex.resolution for ex in by_name["img0.png"]] == [256]  # 256 px is too small for 512
    assert [ex.resolution for ex in by_name["small.png"]] == [256]
    assert any(w["code"] == "resolution_upscaled" for w in sink.of("warning"))
    assert any(w["code"] == "caption_missing" for w in sink.of("warning"))

    cfg = _cfg(tmp_path, data, datasets=[{"folder": str(data), "resolutions": [256], "repeats": 5}])
    assert {ex.repeats for ex in collect_examples(cfg, ListSink())} == {5}


def test_excluded_images_are_left_out(tmp_path):
    workspace = pytest.importorskip("curation.workspace")
    from training.data import collect_examples
    from training.events import ListSink

    data = make_dataset(tmp_path / "data", count=3)
    ws = workspace.Workspace.open(data)
    ws.set_excluded("2_t0ken/img1.png", True)
    ws.close()
    cfg = _cfg(tmp_path, data)
    names = {ex.path.name for ex in collect_examples(cfg, ListSink())}
    assert names == {"img0.png", "img2.png"}


def test_epoch_plan_is_deterministic_bucketed_and_counts_repeats(tmp_path):
    from pathlib import Path

    from training.data import EpochPlan, Example

    def ex(i, bucket, repeats):
        return Example(
            Path(f"/x/{i}.png"), f"{i}.png", "c", str(i), (1, 1), bucket, 256, repeats, False
        )

    examples = [ex(0, (256, 256), 3), ex(1, (256, 256), 1), ex(2, (208, 320), 2)]
    plan = EpochPlan(examples, batch_size=2, seed=9)
    a, b = plan.batches(0), plan.batches(0)
    assert a == b and plan.batches(1) != a
    flat = sorted(i for batch in a for i in batch)
    assert flat == [0, 0, 0, 1, 2, 2]
    for batch in a:
        assert len({examples[i].bucket for i in batch}) == 1
    assert EpochPlan(examples, 2, seed=10).batches(0) != a or True  # other seeds may differ


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from diffusers import ZImagePipeline

    return ZImagePipeline.from_pretrained(str(tiny_model_dir(tmp_path_factory)))


def test_text_cache_matches_the_pipeline_encoder_and_reuses_disk(pipe, tmp_path):
    import torch

    from training.data import TextCache
    from training.events import ListSink

    cache = TextCache(pipe.text_encoder, pipe.tokenizer, torch.device("cpu"), tmp_path / "text")
    captions = ["a photo of t0ken, smiling", "", "t0ken"]
    cache.warm(captions, ListSink())
    for text in captions:
        expected = pipe._encode_prompt(text, device=torch.device("cpu"))[0]
        got = cache.get(text)
        assert got.shape == expected.shape  # variable length: padding removed
        assert torch.allclose(got, expected, atol=1e-5)
    again = TextCache(pipe.text_encoder, pipe.tokenizer, torch.device("cpu"), tmp_path / "text")
    again.encode = lambda texts: pytest.fail("should come from the disk cache")
    sink = ListSink()
    again.warm(captions, sink)
    assert sink.of("cache_progress")[-1]["done"] == 3


def test_latent_cache_normalises_with_the_vae_config_and_keys_by_bucket(pipe, tmp_path):
    import torch

    from training.config import validate_config
    from training.data import LatentCache, collect_examples, load_pixels
    from training.events import ListSink

    data = make_dataset(tmp_path / "data", count=2)
    flips = [{"folder": str(data), "resolutions": [256], "flip_x": True}]
    cfg = validate_config(tiny_config(tmp_path, tmp_path / "m", data, datasets=flips))
    examples = collect_examples(cfg, ListSink())
    cache = LatentCache(pipe.vae, torch.device("cpu"), tmp_path / "lat")
    bad = cache.warm(examples, flips=True, sink=ListSink(), keep=False)
    assert bad == []
    ex = examples[1]
    lat = cache.get(ex, False)
    assert lat.shape == (16, ex.bucket[1] // 8, ex.bucket[0] // 8)
    with torch.no_grad():
        raw = pipe.vae.encode(load_pixels(ex, False)[None]).latent_dist.mode()[0]
    cfgv = pipe.vae.config
    assert torch.allclose(lat, (raw - cfgv.shift_factor) * cfgv.scaling_factor, atol=1e-5)
    assert not torch.equal(cache.get(ex, True), lat)  # flipped copy differs
    assert cache.key(ex, False) != cache.key(ex, True)
    files = list((tmp_path / "lat").rglob("*.safetensors"))
    assert len(files) == 2 * len(examples)
    other = LatentCache(pipe.vae, torch.device("cpu"), tmp_path / "lat")
    other.encode = lambda ex, flip: pytest.fail("should come from the disk cache")
    assert torch.equal(other.get(ex, False), lat)


def test_an_image_that_vanishes_before_caching_is_skipped_once(pipe, tmp_path):
    import torch

    from training.config import validate_config
    from training.data import LatentCache, collect_examples
    from training.events import ListSink

    data = make_dataset(tmp_path / "data", count=2, size=(512, 512))
    two = [{"folder": str(data), "resolutions": [256, 512]}]
    examples = collect_examples(
        validate_config(tiny_config(tmp_path, tmp_path / "m", data, datasets=two)), ListSink()
    )
    gone = data / "2_t0ken" / "img0.png"
    assert sum(ex.path == gone for ex in examples) == 2  # one entry per resolution
    gone.unlink()
    sink = ListSink()
    bad = LatentCache(pipe.vae, torch.device("cpu"), None).warm(examples, False, sink, keep=True)
    assert sorted(examples[i].path.name for i in bad) == ["img0.png", "img0.png"]
    assert len([w for w in sink.of("warning") if w["code"] == "image_skipped"]) == 1
