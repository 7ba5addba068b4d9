"""Scanning: extensions, caption pairing, kohya repeats, skipped folders, errors, speed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from curation.dataset import (
    IMAGE_EXTS,
    DatasetError,
    kohya_repeats,
    natural_key,
    scan_folder,
)
from curation.jobs import Cancelled, CancelToken
from tests.corpus import make_dataset


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_every_extension_any_case_and_nothing_else(tmp_path: Path) -> None:
    names = ["a.jpg", "b.JPEG", "c.Png", "d.webp", "e.BMP", "f.tif", "g.TIFF", "h.jpeg"]
    for name in names:
        touch(tmp_path / name)
    for other in ["notes.md", "i.gif", "j.txt", "k.psd", "l.jpg.bak", "noext"]:
        touch(tmp_path / other)
    result = scan_folder(tmp_path)
    assert sorted(i.name for i in result.items) == sorted(names)
    assert {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"} == set(IMAGE_EXTS)


def test_captions_pair_by_stem(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    touch(tmp_path / "a.txt", b"caption a")
    touch(tmp_path / "b.JPG")
    touch(tmp_path / "b.TXT", b"caption b")  # extension of the caption in any case too
    touch(tmp_path / "c.webp")
    touch(tmp_path / "orphan.txt", b"no image")
    items = {i.rel: i for i in scan_folder(tmp_path).items}
    assert items["a.png"].has_caption and items["a.png"].caption_path == tmp_path / "a.txt"
    assert items["b.JPG"].has_caption and items["b.JPG"].caption_path.name == "b.TXT"
    assert not items["c.webp"].has_caption
    assert items["c.webp"].caption_path == tmp_path / "c.txt"  # where a new one goes
    assert items["a.png"].caption_size == len(b"caption a")
    assert items["a.png"].caption_mtime_ns > 0
    result = scan_folder(tmp_path)
    assert (result.captioned, result.uncaptioned) == (2, 1)


def test_kohya_repeats_and_relative_paths(tmp_path: Path) -> None:
    touch(tmp_path / "10_l3yla" / "x.png")
    touch(tmp_path / "3_style" / "deep" / "y.png")
    touch(tmp_path / "plain" / "z.png")
    touch(tmp_path / "top.png")
    items = {i.rel: i for i in scan_folder(tmp_path).items}
    assert items["10_l3yla/x.png"].repeats == 10
    assert items["3_style/deep/y.png"].repeats == 3  # inherited from the nearest kohya folder
    assert items["plain/z.png"].repeats == 1
    assert items["top.png"].repeats == 1
    assert items["10_l3yla/x.png"].caption_rel == "10_l3yla/x.txt"
    assert all(i.path.is_absolute() for i in items.values())
    # opening the kohya folder itself still reads its repeats
    assert scan_folder(tmp_path / "10_l3yla").items[0].repeats == 10


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("10_l3yla", 10),
        ("1_a", 1),
        ("0_x", None),
        ("10l3yla", None),
        ("x_10", None),
        ("12_two words", 12),
        ("_5", None),
    ],
)
def test_kohya_repeats_parsing(name: str, expected: int | None) -> None:
    assert kohya_repeats(name) == expected


def test_skips_state_and_hidden_folders_and_files(tmp_path: Path) -> None:
    touch(tmp_path / ".likeness" / "thumb.png")
    touch(tmp_path / ".git" / "obj.png")
    touch(tmp_path / "sub" / ".hidden" / "h.png")
    touch(tmp_path / "._resource.jpg")  # macOS AppleDouble file
    touch(tmp_path / ".a.png.likeness-tmp-1-abcd")
    touch(tmp_path / "sub" / "ok.png")
    assert [i.rel for i in scan_folder(tmp_path).items] == ["sub/ok.png"]


def test_non_recursive(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    touch(tmp_path / "sub" / "b.png")
    assert [i.rel for i in scan_folder(tmp_path, recursive=False).items] == ["a.png"]
    assert len(scan_folder(tmp_path, recursive=True).items) == 2


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    touch(tmp_path / "real" / "a.png")
    os.symlink(tmp_path, tmp_path / "real" / "loop")  # would recurse forever if followed
    assert [i.rel for i in scan_folder(tmp_path).items] == ["real/a.png"]


def test_natural_sort(tmp_path: Path) -> None:
    for n in (10, 2, 1):
        touch(tmp_path / f"img{n}.png")
    touch(tmp_path / "IMG3.png")
    assert [i.rel for i in scan_folder(tmp_path).items] == [
        "img1.png",
        "img2.png",
        "IMG3.png",
        "img10.png",
    ]
    assert natural_key("a2") < natural_key("a10")


def test_unusable_folders_raise_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan_folder(tmp_path / "missing")
    file = touch(tmp_path / "file.png")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_folder(file)


def test_unreadable_root_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.scandir

    def denied(path):  # root ignores chmod: simulate the kernel's answer
        if Path(path) == tmp_path:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr("curation.dataset.os.scandir", denied)
    with pytest.raises(DatasetError, match="cannot read dataset folder"):
        scan_folder(tmp_path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_unreadable_root_real_chmod(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        with pytest.raises(DatasetError, match="not readable"):
            scan_folder(folder)
    finally:
        folder.chmod(0o755)


def test_unreadable_subfolder_is_a_per_item_error(tmp_path, monkeypatch) -> None:
    touch(tmp_path / "ok" / "a.png")
    touch(tmp_path / "locked" / "b.png")
    real = os.scandir

    def denied(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr("curation.dataset.os.scandir", denied)
    result = scan_folder(tmp_path)
    assert [i.rel for i in result.items] == ["ok/a.png"]
    assert [(e.path, e.error) for e in result.errors] == [
        ("locked", "permission denied (check the file's permissions)")
    ]


def test_two_images_one_caption_is_a_warning(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "a.txt", b"shared")
    result = scan_folder(tmp_path)
    assert len(result.items) == 2 and all(i.has_caption for i in result.items)
    assert len(result.warnings) == 1 and "both use the caption a.txt" in result.warnings[0].error


def test_progress_and_cancel(tmp_path: Path) -> None:
    for d in range(3):
        touch(tmp_path / f"d{d}" / "a.png")
    calls = []
    scan_folder(tmp_path, on_progress=lambda done, total, msg: calls.append((done, msg)))
    assert len(calls) == 4 and calls[-1][0] == 3
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scan_folder(tmp_path, cancel=token)


@pytest.mark.slow
def test_scan_10000_files_is_fast(tmp_path: Path) -> None:
    """~0.3 s on a quiet 2-core machine. The bound is relative to a bare os.scandir + stat
    walk of the same folder, measured in the same run, so a busy shared machine does not
    make it flaky; a decode or a per-file open would blow it by 10x."""
    make_dataset(tmp_path / "10_big", 10_000)

    def bare() -> None:
        with os.scandir(tmp_path / "10_big") as it:
            for entry in it:
                entry.stat()

    base = min(_timed(bare) for _ in range(2))
    best = min(_timed(lambda: scan_folder(tmp_path)) for _ in range(2))
    result = scan_folder(tmp_path)
    assert len(result.items) == 10_000 and result.captioned == 10_000
    assert result.items[0].repeats == 10
    assert best < 8 * base + 0.15, f"scan took {best:.2f}s, bare walk {base:.2f}s"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a byte-oriented file system")
def test_file_names_that_are_not_utf8_are_per_file_errors(tmp_path: Path) -> None:
    touch(tmp_path / "ok.png")
    folder = os.fsencode(tmp_path)
    for raw in (b"caf\xe9.png", b"caf\xe9.txt", b"notes\xe9.md"):
        with open(os.path.join(folder, raw), "wb") as fh:
            fh.write(b"x")
    os.mkdir(os.path.join(folder, b"sub\xff"))
    result = scan_folder(tmp_path)
    assert [i.rel for i in result.items] == ["ok.png"]
    assert sorted(e.path for e in result.errors) == ["caf\ufffd.png", "caf\ufffd.txt", "sub\ufffd"]
    assert all("not valid UTF-8" in e.error for e in result.errors)
    from curation.workspace import Workspace

    with Workspace.open(tmp_path) as ws:  # the state db only ever sees valid names
        assert [i.rel for i in ws.items] == ["ok.png"]
