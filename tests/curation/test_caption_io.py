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

    real_open = os.open

    def denied(p, flags, *a, **kw):
        if str(p) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(p, flags, *a, **kw)

    monkeypatch.setattr(caption_io.os, "open", denied)
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
    """A temp file of a dead process goes at once (old and short names); one of a live
    process stays until it is a day old (then its pid was reused)."""
    dead = 2**22 + 12345  # above Linux's pid_max default: no such process
    stale_old_name = tmp_path / f".a.txt{TEMP_MARK}{dead}-abcd"
    stale_old_name.write_text("half")
    stale = tmp_path / f"{TEMP_MARK}{dead}-abcd"
    stale.write_text("half")
    live = tmp_path / f"{TEMP_MARK}{os.getpid()}-abcd"
    live.write_text("in use")
    reused = tmp_path / f"{TEMP_MARK}{os.getpid()}-ef01"
    reused.write_text("ancient")
    old = os.stat(reused).st_mtime - 2 * 86400
    os.utime(reused, (old, old))
    other = tmp_path / ".hidden-user-file"
    other.write_text("mine")
    folder = tmp_path / f"{TEMP_MARK}{dead}-0000"
    folder.mkdir()  # not a regular file: never removed
    assert remove_stale_temp_files(tmp_path) == 3
    assert not stale.exists() and not stale_old_name.exists() and not reused.exists()
    assert live.exists() and other.exists() and folder.is_dir()


def test_caption_symlink_is_read_only_never_written_or_deleted(tmp_path: Path) -> None:
    shared = tmp_path / "shared.txt"
    shared.write_text("old")
    link = tmp_path / "a.txt"
    link.symlink_to(shared)
    cap = read_caption(link, root=tmp_path)
    assert cap.text == "old" and cap.read_only and "symbolic link" in cap.warning
    with pytest.raises(CaptionWriteError, match="symbolic link"):
        write_caption_atomic(link, "new")
    with pytest.raises(CaptionWriteError, match="symbolic link"):
        delete_caption(link)
    assert link.is_symlink() and shared.read_text() == "old"
    dangling = tmp_path / "b.txt"
    dangling.symlink_to(tmp_path / "outside" / "nothing.txt")
    with pytest.raises(CaptionReadError, match="does not exist"):
        read_caption(dangling)
    with pytest.raises(CaptionWriteError, match="symbolic link"):
        write_caption_atomic(dangling, "new")
    assert not (tmp_path / "outside").exists()
    loop = tmp_path / "c.txt"
    loop.symlink_to(loop)
    with pytest.raises(CaptionReadError, match="loop"):
        read_caption(loop)


def test_link_outside_root_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not yours")
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "a.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(CaptionReadError, match="outside the dataset"):
        read_caption(ds / "a.txt", root=ds)
    (ds / "b.txt").symlink_to("/dev/zero")
    with pytest.raises(CaptionReadError, match="outside the dataset"):
        read_caption(ds / "b.txt", root=ds)
    with pytest.raises(CaptionReadError, match="device"):  # without a root: still refused
        read_caption(ds / "b.txt")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_caption_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.txt")
    with pytest.raises(CaptionReadError, match="FIFO"):
        read_caption(tmp_path / "a.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")  # through a link too
    with pytest.raises(CaptionReadError, match="FIFO"):
        read_caption(tmp_path / "b.txt", root=tmp_path)
    with pytest.raises(CaptionWriteError, match="FIFO"):
        write_caption_atomic(tmp_path / "a.txt", "x")


def test_folder_outside_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CaptionWriteError, match="outside the dataset"):
        write_caption_atomic(ds / "sub" / "a.txt", "x", root=ds)
    assert list(outside.iterdir()) == []


def test_read_only_and_owner_honoured_even_as_root(tmp_path: Path) -> None:
    """No write bit = read-only for everybody (root included); an edited caption keeps its
    mode and (when root edits it) its owner."""
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o444)
    with pytest.raises(CaptionWriteError, match="read-only"):
        write_caption_atomic(path, "new")
    with pytest.raises(CaptionWriteError, match="read-only"):
        delete_caption(path)
    assert path.read_text() == "old"
    path.chmod(0o640)
    if IS_ROOT and hasattr(os, "chown"):
        os.chown(path, 12345, 23456)
    write_caption_atomic(path, "new")
    st = os.stat(path)
    assert path.read_text() == "new" and (st.st_mode & 0o7777) == 0o640
    if IS_ROOT and hasattr(os, "chown"):
        assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_long_caption_name_can_be_saved(tmp_path: Path) -> None:
    """A 255-byte name (the usual limit): the temp name must not be longer."""
    path = tmp_path / ("c" * 251 + ".txt")
    write_caption_atomic(path, "x")
    write_caption_atomic(path, "y")
    assert path.read_text() == "y" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_planted_link_at_a_temp_name_is_not_followed(tmp_path: Path, monkeypatch) -> None:
    from curation import fsio

    target = tmp_path / "victim"
    target.write_text("keep")
    monkeypatch.setattr(fsio, "temp_name", lambda: "planted")
    (tmp_path / "planted").symlink_to(target)
    with pytest.raises(CaptionWriteError):
        write_caption_atomic(tmp_path / "a.txt", "x")
    assert target.read_text() == "keep" and not (tmp_path / "a.txt").exists()


def test_huge_file_is_not_read_as_a_caption(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * caption_io.MAX_CAPTION_BYTES)
    assert len(read_caption(path).text) == caption_io.MAX_CAPTION_BYTES
    with open(path, "wb") as fh:
        fh.truncate(5_000_000)
    with pytest.raises(CaptionReadError, match="4.8 MB, over the 64 KB limit"):
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
