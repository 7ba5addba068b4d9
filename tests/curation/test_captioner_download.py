"""What the captioner download helpers tell a user: is a model on disk, and the plain
message when it is not (no Hub jargon), online and offline."""

from __future__ import annotations

from pathlib import Path

from curation.captioners.download import (
    downloads_off,
    hub_cache_dir,
    missing_model_message,
    model_on_disk,
)


def test_model_on_disk_reads_the_cache_only(monkeypatch, tmp_path):
    import huggingface_hub.constants as c

    # the cache path is fixed when huggingface_hub is imported: point it at this test's folder
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert model_on_disk("base") is None and model_on_disk("large") is None
    assert model_on_disk(str(tmp_path)) is None  # a path is not a cached repo
    # a complete snapshot in the cache layout is found, without the network
    cache = Path(c.HF_HUB_CACHE)
    repo = cache / "models--florence-community--Florence-2-base"
    snap = repo / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    assert model_on_disk("base") == snap
    assert hub_cache_dir() == cache


def test_missing_model_message_is_plain(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert downloads_off()
    text = missing_model_message("large")
    assert text.startswith("The captioning model Florence-2 large is not on this computer")
    assert "set to work offline" in text and "choose a folder" in text
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    text = missing_model_message("base")
    assert "could not be downloaded" in text and "internet connection" in text
    for jargon in ("HF_HUB_OFFLINE", "Hugging Face", "snapshot", "repo", "local_files_only"):
        assert jargon not in text
