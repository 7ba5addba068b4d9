"""The generated bad-input corpus through the whole dataset core: every bad file is a clear
per-file message, every odd-but-valid file loads correctly, and no image byte changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from curation import workspace
from curation.errors import CaptionWriteError
from curation.images import ImageLoadError, load_image
from curation.workspace import Workspace
from tests.corpus import UNICODE_NAME, hash_tree, make_bad_corpus

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")

EXPECTED_ERRORS = {
    "truncated.jpg": "cannot read: truncated JPEG",
    "empty.png": "empty file (0 bytes)",
    "text.png": "not an image: the file is text named .png",
    "page.jpg": "not an image: the file is a web page (HTML) named .jpg",
    "bomb.png": "image is 20000x20000 = 400 MP, over the 150 MP limit; raise it in Preferences",
}


@pytest.fixture
def corpus_dir(tmp_path: Path) -> tuple[Path, dict]:
    folder = tmp_path / "bad corpus"
    return folder, make_bad_corpus(folder)


def test_whole_corpus_scan_probe_load_and_edit(corpus_dir, monkeypatch) -> None:
    folder, cases = corpus_dir
    before = hash_tree(folder, IMAGE_SUFFIXES)
    real_write = workspace.write_caption_atomic

    def write(path, text, root=None):  # the read-only caption (simulated: tests may run as root)
        if Path(path).name == "latin1.txt":
            raise CaptionWriteError(
                "cannot write caption latin1.txt: permission denied: the "
                "caption or its folder is read-only. Your edit is kept"
            )
        real_write(path, text, root=root)

    monkeypatch.setattr(workspace, "write_caption_atomic", write)
    with Workspace.open(folder) as ws:
        rels = {i.rel for i in ws.items}
        assert f"{UNICODE_NAME}.png" in rels and "upper.WEBP" in rels
        assert "animated.gif" not in rels  # not a dataset extension
        results = {r.path: r for r in ws.probe_all()}
        errors = {rel: r.error for rel, r in results.items() if r.error}
        assert set(errors) == set(EXPECTED_ERRORS)
        for rel, message in EXPECTED_ERRORS.items():
            assert message in errors[rel], (rel, errors[rel])
        # every other image loads, as 8-bit RGB, with a sane picture
        for rel, res in results.items():
            if res.error:
                continue
            loaded = load_image(folder / rel)
            assert loaded.image.mode == "RGB" and loaded.image.size == (
                res.value.width,
                res.value.height,
            )
        assert 100 < np.asarray(load_image(folder / "grey16.png").image).mean() < 155

        # captions in awkward encodings are read, with a warning where it is a guess
        assert ws.caption("latin1.png") == "café, naïve, 50°"
        assert "Windows-1252" in ws.caption_warnings["latin1.png"]
        assert ws.caption("utf16.png") == "ñandú, 日本"
        assert ws.caption("utf8bom.png") == "smiling, bob"
        assert ws.caption(f"{UNICODE_NAME}.png") == "ünïcödé caption"

        # edits: unicode names save; UTF-16 is rewritten as UTF-8; read-only stays pending
        ws.set_caption(f"{UNICODE_NAME}.png", "zoë, 日本語, smiling")
        ws.set_caption("utf16.png", "ñandú, rewritten")
        res = ws.set_caption("latin1.png", "café, edited")
        assert res.pending and "read-only" in res.pending[0].error
        assert ws.caption("latin1.png") == "café, edited" and "latin1.png" in ws.pending()
    assert (folder / f"{UNICODE_NAME}.txt").read_text(encoding="utf-8") == "zoë, 日本語, smiling"
    assert (folder / "utf16.txt").read_bytes() == "ñandú, rewritten".encode()
    assert (folder / "latin1.txt").read_bytes() == "café, naïve, 50°".encode("latin-1")
    assert hash_tree(folder, IMAGE_SUFFIXES) == before  # no image byte changed


def test_every_bad_file_is_a_per_file_error_not_a_crash(corpus_dir) -> None:
    folder, cases = corpus_dir
    for name, case in cases.items():
        try:
            load_image(case.path)
        except ImageLoadError as exc:
            assert case.error and case.error in str(exc), (name, str(exc))
        else:
            assert case.error is None, f"{name} should have failed"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_read_only_caption_real_chmod(corpus_dir) -> None:
    folder, _ = corpus_dir
    (folder / "latin1.txt").chmod(0o444)
    with Workspace.open(folder) as ws:
        res = ws.set_caption("latin1.png", "edited")
        assert res.pending and "read-only" in res.pending[0].error
    with Workspace.open(folder) as ws:
        assert ws.caption("latin1.png") == "edited"
