"""The ai-toolkit UI's own Z-Image Turbo job (``../shared/fixtures/aitk``) for the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

UI_JOB = (
    Path(__file__).resolve().parents[2].parent
    / "shared" / "fixtures" / "aitk" / "ui_zimage_turbo.job_config.json"
)  # fmt: skip


def ui_job() -> dict:
    """A fresh copy of the job; the test is skipped without ``../shared``."""
    if not UI_JOB.is_file():
        pytest.skip("needs ../shared/fixtures/aitk/ui_zimage_turbo.job_config.json")
    return json.loads(UI_JOB.read_text())


def with_train(**train) -> dict:
    """The UI job with ``train`` settings replaced."""
    job = ui_job()
    job["config"]["process"][0]["train"].update(train)
    return job
