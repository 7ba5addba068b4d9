"""Caption reading in any encoding (never crashing) and atomic, permission-respecting writes."""

from __future__ import annotations

import codecs
import os
import random
from pathlib import Path

import pytest

from curation import caption_io
from curation.caption_io import (
    TEMP_MARK,
    CaptionReadError,
    CaptionWriteError,
    decode_caption,
    delete_caption,
    read_caption,
    remove_stale_temp_files,
    write_caption_atomic,
)

IS_ROOT = not hasattr(os, "geteuid") or os.geteuid() == 0  # root ignores permissions


@pytest.mark.parametrize(
    ("raw", "text", "encoding", "warns"),
    [
        ("photo of l3yla, café".encode(), "photo of l3yla, café", "utf-8", False),
        (codecs.BOM_UTF8 + b"smiling, bob", "smiling, bob", "utf-8-sig", False),
        ("ñandú, 日本".encode("utf-16"), "ñandú, 日本", "utf-16", False),
        (codecs.BOM_UTF16_BE + "zoë".encode("utf-16-be"), "zoë", "utf-16", False),
        ("x".encode("utf-32"), "x", "utf-32", False),
        ("café, naïve, 50°".encode("latin-1"), "café, naïve, 50°", "cp1252", True),
        ("“quoted” – dash €".encode("cp1252"), "“quoted” – dash €", "cp1252", True),
        ("a long caption, red".encode("utf-16-le"), "a long caption, red", "utf-16-le", True),
        (b"", "", "utf-8", False),
    ],
)
def test_decode(raw: bytes, text: str, encoding: str, warns: bool) -> None:
    cap = decode_caption(raw)
    assert (cap.text, cap.encoding) == (text, encoding)
    assert bool(cap.warning) == warns
    if encoding == "cp1252":
        assert "not UTF-8" in cap.warning and "Windows-1252" in cap.warning


def test_bytes_undefined_in_cp1252_do_not_crash() -> None:
    cap = decode_caption(b"caf\xe9 \x81\x8d\x8f\x90\x9d end")
    assert cap.text.startswith("café ") and cap.text.endswith(" end")
    assert cap.encoding == "cp1252" and cap.warning


def test_random_bytes_never_crash() -> None:
    rng = random.Random(1)
    for _ in range(500):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        assert isinstance(decode_caption(data).text, str)


def test_damaged_bom_text_is_replaced_not_raised() -> None:
    cap = decode_caption(codecs.BOM_UTF8 + b"ok \xff\xfe bad")
    assert cap.text.startswith("ok ") and cap.warning and "damaged" in cap.warning


def test_read_missing_and_unreadable(tmp_path: Path, monkeypatch) -> None:
    missing = read_caption(tmp_path / "none.txt")
    assert (missing.text, missing.exists) == ("", False)
    with pytest.raises(CaptionReadError, match="it is a folder"):
        read_caption(tmp_path)
    path = tmp_path / "a.txt"
    path.write_text("x")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CaptionReadError, match="permission denied"):
        read_caption(path)


def test_write_is_utf8_without_bom_and_roundtrips(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("old".encode("utf-16"))
    write_caption_atomic(path, "photo of zoë, 日本, “x”")
    assert path.read_bytes() == "photo of zoë, 日本, “x”".encode()
    assert read_caption(path).encoding == "utf-8"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp file left


def test_write_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o640)
    write_caption_atomic(path, "new")
    assert path.stat().st_mode & 0o777 == 0o640


def test_write_creates_new_caption(tmp_path: Path) -> None:
    write_caption_atomic(tmp_path / "new.txt", "")
    assert (tmp_path / "new.txt").read_bytes() == b""


def test_write_is_atomic_when_replace_fails(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old text")

    def boom(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(caption_io.os, "replace", boom)
    with pytest.raises(CaptionWriteError, match="Input/output error"):
        write_caption_atomic(path, "new text")
    assert path.read_text() == "old text"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # temp file cleaned up


def test_write_fsyncs_file_and_folder(tmp_path: Path, monkeypatch) -> None:
    synced = []
    real = os.fsync
    monkeypatch.setattr(caption_io.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    write_caption_atomic(tmp_path / "a.txt", "x")
    assert len(synced) == 2  # the temp file, then the folder


def test_read_only_caption_simulated(tmp_path: Path, monkeypatch) -> None:
    """As root, chmod is ignored: simulate what the kernel answers a normal user."""
    path = tmp_path / "a.txt"
    path.write_text("old")
    real_access = os.access
    monkeypatch.setattr(
        caption_io.os, "access", lambda p, m: False if Path(p) == path else real_access(p, m)
    )
    with pytest.raises(CaptionWriteError) as info:
        write_caption_atomic(path, "new")
    message = str(info.value)
    assert "a.txt" in message and "read-only" in message and "Your edit is kept" in message
    assert path.read_text() == "old"
    with pytest.raises(CaptionWriteError, match="cannot delete caption a.txt"):
        delete_caption(path)


def test_read_only_folder_simulated(tmp_path: Path, monkeypatch) -> None:
    real_open = os.open

    def deny_create(p, flags, *a):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(p, flags, *a)

    monkeypatch.setattr(caption_io.os, "open", deny_create)
    with pytest.raises(CaptionWriteError, match="read-only"):
        write_caption_atomic(tmp_path / "a.txt", "x")


def test_disk_full_simulated(tmp_path: Path, monkeypatch) -> None:
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(caption_io.os, "write", full)
    with pytest.raises(CaptionWriteError, match="the disk is full"):
        write_caption_atomic(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_read_only_caption_real_chmod(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o444)
    with pytest.raises(CaptionWriteError, match="read-only"):
        write_caption_atomic(path, "new")
    assert path.read_text() == "old"
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "b.txt").write_text("old")
    folder.chmod(0o555)
    try:
        with pytest.raises(CaptionWriteError, match="read-only"):
            write_caption_atomic(folder / "b.txt", "new")
    finally:
        folder.chmod(0o755)


def test_delete_caption(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x")
    delete_caption(path)
    assert not path.exists()
    delete_caption(path)  # missing is fine


def test_remove_stale_temp_files(tmp_path: Path) -> None:
    stale = tmp_path / f".a.txt{TEMP_MARK}123-abcd"
    stale.write_text("half")
    fresh = tmp_path / f".b.txt{TEMP_MARK}124-abcd"
    fresh.write_text("in use")
    other = tmp_path / ".hidden-user-file"
    other.write_text("mine")
    old = os.stat(stale).st_mtime - 3600
    os.utime(stale, (old, old))
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and other.exists()


def test_write_through_symlink_keeps_the_link(tmp_path: Path) -> None:
    shared = tmp_path / "shared.txt"
    shared.write_text("old")
    link = tmp_path / "a.txt"
    link.symlink_to(shared)
    write_caption_atomic(link, "new")
    assert link.is_symlink() and shared.read_text() == "new"


def test_huge_file_is_not_read_as_a_caption(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with open(path, "wb") as fh:
        fh.truncate(5_000_000)
    with pytest.raises(CaptionReadError, match="5.0 MB, not a caption"):
        read_caption(path)


def test_replace_refused_by_the_os_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    """What Windows (file locked) or a read-only mount answers at the rename."""
    path = tmp_path / "a.txt"
    path.write_text("old")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(caption_io.os, "replace", refuse)
    with pytest.raises(CaptionWriteError, match="cannot write caption a.txt: permission denied"):
        write_caption_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
