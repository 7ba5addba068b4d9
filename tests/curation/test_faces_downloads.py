"""Model downloads: no network, cancel, insightface's zip unpacked safely (no real network)."""

from __future__ import annotations

import io
import socket
import urllib.error
import zipfile

import pytest

from curation.faces.models import (
    DownloadCancelled,
    ModelDownloadError,
    NoNetworkError,
    download_model,
    find_model,
    is_offline_error,
)
from curation.jobs import CancelToken


def offline_fetch(url):
    raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    yield b""  # pragma: no cover - a generator, like the real fetch


def test_offline_error_detection():
    assert is_offline_error(urllib.error.URLError(socket.gaierror(-2, "Name or service")))
    assert is_offline_error(urllib.error.URLError(ConnectionRefusedError(111, "refused")))
    assert is_offline_error(TimeoutError("timed out"))
    wrapped = RuntimeError("HTTPSConnectionPool(host='github.com'): Max retries exceeded")
    wrapped.__cause__ = OSError(101, "Network is unreachable")
    assert is_offline_error(wrapped)
    assert not is_offline_error(urllib.error.URLError(FileNotFoundError(2, "missing")))
    assert not is_offline_error(ValueError("bad"))


def test_no_network_gives_one_plain_message(tmp_path):
    dest = tmp_path / "models"
    with pytest.raises(NoNetworkError) as info:
        download_model("sface", dest, fetch=offline_fetch)
    message = str(info.value)
    assert message.startswith(f"no internet connection: copy the files into {dest}")
    assert "face_recognition_sface_2021dec.onnx" in message
    assert "HTTPS" not in message and "URLError" not in message and "gaierror" not in message
    assert find_model("sface", dest) is None
    assert list(dest.iterdir()) == []  # no temp file left behind


def test_cancel_stops_and_saves_nothing(tmp_path):
    dest = tmp_path / "models"
    token = CancelToken()
    seen = []

    def slow_fetch(url):
        for _ in range(100):
            yield b"x" * 1024

    def progress(done, total, _name):
        seen.append(done)
        if done >= 4096:
            token.cancel()

    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_model("sface", dest, fetch=slow_fetch, on_progress=progress, cancel=token)
    assert seen[:4] == [1024, 2048, 3072, 4096] and len(seen) < 10
    assert list(dest.iterdir()) == []


def _zip_of(folder, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_insightface_pack_download_unpacks_only_model_files(tmp_path):
    pytest.importorskip("insightface")
    from curation.faces.insightface_backend import (
        InsightFaceDetector,
        download_insightface_models,
        models_present,
    )
    from tests.curation.tiny_insightface import build_buffalo

    built = build_buffalo(tmp_path / "built")
    payload = _zip_of(built, {"../../evil.onnx": b"not a model", "readme.txt": b"hi"})
    root = tmp_path / "if"
    progress = []

    def fetch(url):
        assert url.endswith("/buffalo_l.zip")
        for i in range(0, len(payload), 4096):
            yield payload[i : i + 4096]

    target = download_insightface_models(
        root, fetch=fetch, on_progress=lambda d, t, m: progress.append((d, t))
    )
    assert target == root / "models" / "buffalo_l" and models_present(root)
    assert sorted(p.name for p in target.iterdir()) == [
        "det_10g.onnx",
        "evil.onnx",
        "w600k_r50.onnx",
    ]
    assert not (tmp_path / "evil.onnx").exists() and not (root / "evil.onnx").exists()
    assert progress[-1][0] == len(payload)
    assert sorted(p.name for p in (root / "models").iterdir()) == ["buffalo_l"]  # no leftovers
    (target / "evil.onnx").unlink()
    det = InsightFaceDetector(root=root)  # the downloaded pack loads without any licence flag
    assert det.has_embeddings


def test_insightface_pack_offline_or_broken_leaves_no_folder(tmp_path):
    pytest.importorskip("insightface")
    from curation.faces.insightface_backend import download_insightface_models, models_present

    root = tmp_path / "if"
    with pytest.raises(NoNetworkError, match="no internet connection: copy the files into"):
        download_insightface_models(root, fetch=offline_fetch)
    with pytest.raises(ModelDownloadError, match="could not be unpacked"):
        download_insightface_models(root, fetch=lambda url: iter([b"not a zip"]))
    assert not models_present(root)
    assert list((root / "models").iterdir()) == []


def test_cli_style_accepted_licence_offline_gives_the_plain_message(tmp_path, monkeypatch):
    """``--backend insightface --accept-model-license`` without a network: one sentence."""
    pytest.importorskip("insightface")
    import curation.faces.models as models
    from curation.faces import create_detector

    monkeypatch.setattr(models, "_urllib_fetch", offline_fetch)
    with pytest.raises(NoNetworkError) as info:
        create_detector("insightface", accept_license=True, insightface_root=tmp_path / "if")
    assert str(info.value).startswith("no internet connection: copy the files into")
    assert "HTTPSConnectionPool" not in str(info.value)
