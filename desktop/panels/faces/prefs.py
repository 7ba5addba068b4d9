"""Face-panel preferences: backend, balance profile, model licence answer, export defaults.

Kept in their own YAML file next to the app preferences (``faces.yaml`` in
``curation.paths.config_dir()``) so the panel can grow settings without touching the shell's
strict ``Preferences`` model. A broken file is kept aside and defaults are used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from curation import paths
from desktop.settings import load_yaml_model, save_yaml_model

log = logging.getLogger(__name__)

FACES_PREFS_FILE = "faces.yaml"
Backend = Literal["auto", "insightface", "yunet", "dlib", "haar"]
LicenceAnswer = Literal["unasked", "accepted", "declined"]


class FacesPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = 1
    backend: Backend = "auto"
    profile: str = "character"  # a bundled profile name or a YAML file path
    analyze_on_open: bool = True
    show_face_boxes: bool = True
    insightface_licence: LicenceAnswer = "unasked"
    model_dir: str | None = None  # face model folder; None: the app's default folder
    export_crop_edges: dict[str, int] = Field(default_factory=dict)
    export_face_crop: bool = False
    export_face_size: int = Field(1024, ge=64, le=8192)
    export_face_ratio: float = Field(0.6, ge=0.05, le=1.0)


def faces_prefs_path() -> Path:
    return paths.config_dir() / FACES_PREFS_FILE


def load_faces_prefs(path: Path | None = None) -> FacesPreferences:
    return load_yaml_model(path or faces_prefs_path(), FacesPreferences, "Face preferences")


def save_faces_prefs(prefs: FacesPreferences, path: Path | None = None) -> None:
    """Write atomically (temp file + rename); errors are logged, never raised to the UI."""
    path = path or faces_prefs_path()
    try:
        save_yaml_model(prefs, path, "Likeness face-analysis preferences")
    except OSError as exc:
        log.error("Cannot save face preferences to %s: %s", path, exc)
