"""Safe image loading: orientation, odd modes, bomb guard, per-file errors, draft path."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from curation import images
from curation.images import (
    ImageLoadError,
    file_hash,
    load_image,
    probe_image,
    probe_images,
    set_default_max_pixels,
)
from curation.jobs import CancelToken
from tests.corpus import bomb_png, exif_rotated_jpeg, jpeg_bytes, make_bad_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_bad_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(autouse=True)
def _reset_limit():
    yield
    set_default_max_pixels(images.DEFAULT_MAX_PIXELS)


def test_16bit_grey_png_is_scaled_not_white(corpus) -> None:
    loaded = load_image(corpus["grey16.png"].path)
    arr = np.asarray(loaded.image)
    assert loaded.image.mode == "RGB" and loaded.info.mode == "I;16"
    assert 120 < arr.mean() < 135, arr.mean()  # a 0..65535 gradient, not clipped to white
    assert arr[0, 0, 0] == 0 and arr[0, -1, 0] == 255
    assert np.all(np.diff(arr[0, :, 0].astype(int)) >= 0)  # still a monotonic gradient
    assert any("16-bit" in n for n in loaded.info.notes)


def test_16bit_grey_tiff(corpus) -> None:
    arr = np.asarray(load_image(corpus["grey16.tif"].path).image)
    assert 120 < arr.mean() < 135


def test_mode_I_32bit_from_16bit_source(tmp_path) -> None:
    arr = np.tile(np.linspace(0, 65535, 100).astype(np.int32), (10, 1))
    path = tmp_path / "i32.tif"
    Image.fromarray(arr, "I").save(path)
    out = np.asarray(load_image(path).image)
    assert 120 < out.mean() < 135


def test_float_image_scaled(tmp_path) -> None:
    arr = np.tile(np.linspace(0, 1, 64).astype(np.float32), (8, 1))
    path = tmp_path / "f.tif"
    Image.fromarray(arr, "F").save(path)
    out = np.asarray(load_image(path).image)
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255


def test_exif_orientation_applied(tmp_path) -> None:
    path = tmp_path / "rot.jpg"
    exif_rotated_jpeg(path)
    loaded = load_image(path)
    assert loaded.image.size == (40, 60)  # stored 60x40, orientation 6
    assert (loaded.info.width, loaded.info.height, loaded.info.orientation) == (40, 60, 6)
    arr = np.asarray(loaded.image).astype(int)
    top, bottom = arr[5, 20], arr[-5, 20]
    assert top[0] > 200 and top[2] < 50  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 50
    assert probe_image(path).width == 40


def test_exif_orientation_with_draft(tmp_path) -> None:
    img = Image.new("RGB", (1200, 800), (255, 0, 0))
    img.paste((0, 0, 255), (600, 0, 1200, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big_rot.jpg"
    img.save(path, quality=90, exif=exif.tobytes())
    loaded = load_image(path, draft=(100, 150))
    w, h = loaded.image.size
    assert h > w and 100 <= w <= 220 and 150 <= h <= 330
    arr = np.asarray(loaded.image).astype(int)
    assert arr[3, w // 2, 0] > 200 and arr[-3, w // 2, 2] > 200


def test_cmyk_jpeg_becomes_rgb(corpus) -> None:
    loaded = load_image(corpus["cmyk.jpg"].path)
    r, g, b = np.asarray(loaded.image).reshape(-1, 3).mean(axis=0)
    assert loaded.image.mode == "RGB" and loaded.info.mode == "CMYK"
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 255, 255, 0) is red


def test_palette_with_transparency_on_white(corpus) -> None:
    loaded = load_image(corpus["palette_transparent.png"].path)
    arr = np.asarray(loaded.image)
    assert tuple(arr[8, 2]) == (255, 255, 255)  # transparent half -> white
    assert tuple(arr[8, 12]) == (255, 0, 0)
    assert any("transparent" in n for n in loaded.info.notes)
    kept = load_image(corpus["palette_transparent.png"].path, keep_alpha=True)
    assert kept.image.mode == "RGBA" and kept.image.getpixel((2, 8))[3] == 0


def test_la_and_rgba_composited_on_white(corpus) -> None:
    la = np.asarray(load_image(corpus["la_transparent.png"].path).image)
    assert la.min() == 255  # fully transparent black is white, not black
    rgba = np.asarray(load_image(corpus["rgba_half.png"].path).image)
    assert tuple(rgba[5, 1]) == (255, 255, 255) and tuple(rgba[5, 8]) == (0, 0, 255)


def test_opaque_rgba_has_no_transparency_note(tmp_path) -> None:
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (4, 4), (1, 2, 3, 255)).save(path)
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and loaded.info.notes == ()
    assert loaded.info.has_alpha


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp"])
def test_animated_uses_frame_zero(corpus, name: str) -> None:
    loaded = load_image(corpus[name].path)
    assert tuple(np.asarray(loaded.image)[0, 0]) == (0, 255, 0)
    assert loaded.info.animated and "animated: using the first frame" in loaded.info.notes
    assert probe_image(corpus[name].path).animated


def test_one_pixel(corpus) -> None:
    loaded = load_image(corpus["one_pixel.png"].path)
    assert loaded.image.size == (1, 1) and loaded.image.getpixel((0, 0)) == (10, 20, 30)
    assert load_image(corpus["one_pixel.png"].path, draft=(256, 256)).image.size == (1, 1)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.jpg", "cannot read: truncated JPEG"),
        ("empty.png", "empty file (0 bytes)"),
        ("text.png", "not an image: the file is text named .png"),
        ("page.jpg", "not an image: the file is a web page (HTML) named .jpg"),
        (
            "bomb.png",
            "image is 20000x20000 = 400 MP, over the 150 MP limit; raise it in Preferences",
        ),
    ],
)
def test_bad_files_give_clear_errors(corpus, name: str, message: str) -> None:
    for fn in (load_image, probe_image):
        with pytest.raises(ImageLoadError) as info:
            fn(corpus[name].path)
        assert message in str(info.value)


def test_bomb_guard_checks_header_before_decoding(tmp_path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png())

    def no_decode(self, *a, **k):
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decode)
    start = time.perf_counter()
    with pytest.raises(ImageLoadError, match="400 MP"):
        load_image(path)
    assert time.perf_counter() - start < 1.0


def test_bomb_limit_is_adjustable(tmp_path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (4000, 3000)).save(path)  # 12 MP
    assert load_image(path).info.width == 4000
    with pytest.raises(ImageLoadError, match="12 MP, over the 10 MP limit"):
        load_image(path, max_pixels=10_000_000)
    set_default_max_pixels(5_000_000)
    with pytest.raises(ImageLoadError, match="over the 5.0 MP limit"):
        probe_image(path)
    set_default_max_pixels(0)  # 0: no limit
    assert probe_image(path).height == 3000
    with pytest.raises(ValueError):
        set_default_max_pixels(-1)


def test_unsupported_and_odd_files(tmp_path) -> None:
    heic = tmp_path / "phone.jpg"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(ImageLoadError, match="HEIC/HEIF named .jpg"):
        load_image(heic)
    junk = tmp_path / "junk.png"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ImageLoadError, match="not an image: the file is unrecognised data"):
        probe_image(junk)
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_corrupt_png_body(tmp_path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buf, "PNG"
    )
    data = bytearray(buf.getvalue())
    data[200:260] = b"\xff" * 60  # smash the IDAT stream; CRC no longer matches
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    for fn in (probe_image, load_image):
        with pytest.raises(ImageLoadError, match="cannot read"):
            fn(path)
    cut = tmp_path / "cut.png"
    cut.write_bytes(buf.getvalue()[:-40])
    with pytest.raises(ImageLoadError, match="cannot read"):
        probe_image(cut)


def test_info_records_size_format_and_hash(tmp_path) -> None:
    data = jpeg_bytes(64, 32, seed=2)
    path = tmp_path / "named.png"  # a JPEG with a .png name still loads, with a note
    path.write_bytes(data)
    info = probe_image(path)
    assert (info.width, info.height, info.format, info.mode) == (64, 32, "JPEG", "RGB")
    assert info.size_bytes == len(data)
    assert info.content_hash == file_hash(path) and len(info.content_hash) == 32
    assert "file is JPEG but named .png" in info.notes
    assert load_image(path).info.content_hash == info.content_hash
    other = tmp_path / "other.jpg"
    other.write_bytes(jpeg_bytes(64, 32, seed=3))
    assert file_hash(other) != info.content_hash


def test_draft_fast_path_size_and_speed(tmp_path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(2048, 1536, seed=4))
    full = load_image(path)
    small = load_image(path, draft=(256, 256))
    w, h = small.image.size
    assert 256 <= h <= 512 and w == h * 4 // 3  # at least the request, at most ~2x
    assert small.info.width == 2048 and full.image.size == (2048, 1536)
    t_full = min(_timed(lambda: load_image(path)) for _ in range(5))
    t_draft = min(_timed(lambda: load_image(path, draft=(256, 256))) for _ in range(5))
    assert t_draft < t_full, (t_draft, t_full)  # noise JPEG: Huffman decoding dominates
    png = tmp_path / "big.png"
    Image.new("RGB", (1000, 800), (5, 6, 7)).save(png)
    assert load_image(png, draft=(100, 100)).image.size == (125, 100)  # integer reduce


def test_probe_images_batch(corpus) -> None:
    names = ["one_pixel.png", "truncated.jpg", "grey16.png", "empty.png"]
    calls = []
    results = probe_images(
        [corpus[n].path for n in names], on_progress=lambda d, t, m: calls.append((d, t))
    )
    assert [r.path for r in results] == [str(corpus[n].path) for n in names]
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[1].error.startswith("cannot read: truncated JPEG")
    assert calls[-1] == (4, 4)
    token = CancelToken()
    token.cancel()
    cancelled = probe_images([corpus[n].path for n in names], cancel=token)
    assert all(r.error == "cancelled" for r in cancelled)


def test_loading_never_changes_a_file(corpus) -> None:
    before = {name: file_hash(c.path) for name, c in corpus.items() if c.path.stat().st_size}
    for case in corpus.values():
        for fn in (probe_image, load_image):
            try:
                fn(case.path)
            except ImageLoadError:
                pass
    after = {name: file_hash(c.path) for name, c in corpus.items() if c.path.stat().st_size}
    assert before == after


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_quick_probe_skips_decoding_clean_jpegs(tmp_path, monkeypatch) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(64, 64, seed=6))
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(jpeg_bytes(64, 64, seed=6) + b"\x00" * 64)
    trailing = tmp_path / "trailing.jpg"  # bytes after the end marker: decoded, still fine
    trailing.write_bytes(jpeg_bytes(64, 64, seed=6) + b"camera junk" * 10)
    assert probe_image(trailing).width == 64 and load_image(trailing).image.size == (64, 64)
    decoded = []
    real_load = Image.Image.load

    def spy(self, *a, **k):
        decoded.append(self.format)
        return real_load(self, *a, **k)

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", spy)
    probe_image(good)
    probe_image(padded)
    assert decoded == []  # the end marker was enough
    probe_image(good, thorough=True)
    probe_image(trailing)
    assert len(decoded) == 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "TIFF", "JPEG"])
def test_truncated_files_of_every_format(tmp_path, fmt: str) -> None:
    arr = np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    for fn in (probe_image, load_image):
        with pytest.raises(ImageLoadError, match=f"cannot read: truncated {fmt}"):
            fn(path)


def _outcome(path, **kw):
    """What ``load_image`` gives for ``path``: the pixels and info, or the error text."""
    try:
        loaded = load_image(path, **kw)
    except ImageLoadError as exc:
        return ("error", str(exc))
    info = {**loaded.info.__dict__, "content_hash": None}
    return ("ok", loaded.image.mode, loaded.image.size, loaded.image.tobytes(), info, loaded.notes)


@pytest.mark.parametrize("draft", [None, (64, 64)])
def test_decoding_from_the_file_matches_decoding_its_bytes(corpus, tmp_path, draft) -> None:
    """``hash_content=False`` decodes straight from the open file (the thumbnail path), the
    default from the bytes it hashed: same pixels, same info, same error for every file."""
    cases = [case.path for case in corpus.values()]
    for fmt in ("PNG", "WEBP", "BMP", "TIFF", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (96, 80, 3), np.uint8)).save(
            buf, fmt
        )
        whole = tmp_path / f"whole.{fmt.lower()}"
        whole.write_bytes(buf.getvalue())
        half = tmp_path / f"half.{fmt.lower()}"
        half.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        cases += [whole, half]
    rotated = tmp_path / "rotated.jpg"
    exif_rotated_jpeg(rotated)
    heic = tmp_path / "phone.jpg"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    cases += [rotated, heic, tmp_path / "missing.png", tmp_path]
    errors = 0
    for path in cases:
        streamed = _outcome(path, draft=draft, hash_content=False)
        buffered = _outcome(path, draft=draft)
        assert streamed == buffered, path
        errors += streamed[0] == "error"
    assert errors >= 8  # the bad files really were bad
    assert load_image(rotated, hash_content=False).info.content_hash == ""
