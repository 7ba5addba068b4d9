"""Shared fixtures. Every test runs with isolated config / cache / model folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIKENESS_SHARED", REPO.parent / "shared"))
ARTIFACTS = REPO / "tests" / "_artifacts"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("likeness-home")
    for env, sub in (
        ("LIKENESS_CONFIG_DIR", "config"),
        ("LIKENESS_CACHE_DIR", "cache"),
        ("LIKENESS_LOG_DIR", "logs"),
    ):
        monkeypatch.setenv(env, str(base / sub))
    # the shared models when they are there; never create folders inside ../shared
    models = SHARED / "models"
    monkeypatch.setenv("LIKENESS_MODEL_DIR", str(models if models.is_dir() else base / "models"))
    monkeypatch.setenv("HF_HOME", str(base / "hf"))
    yield


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture
def faces_dir(shared_dir) -> Path:
    path = shared_dir / "data" / "faces"
    if not (path / "face_recognition").is_dir():
        pytest.skip(f"shared face photos not found at {path}")
    return path


@pytest.fixture
def yunet_model(shared_dir) -> Path:
    path = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not path.is_file():
        pytest.skip("YuNet model not found in shared/models")
    return path


@pytest.fixture
def screenshot_dir() -> Path:
    """Where GUI tests save screenshots to be looked at (ignored by git)."""
    path = ARTIFACTS / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
