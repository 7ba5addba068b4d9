"""Face-panel preferences: backend, balance profile, model licence answer, export defaults.

Kept in their own YAML file next to the app preferences (``faces.yaml`` in
``curation.paths.config_dir()``) so the panel can grow settings without touching the shell's
strict ``Preferences`` model. A broken file is kept aside and defaults are used.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curation import paths

log = logging.getLogger(__name__)

FACES_PREFS_FILE = "faces.yaml"
Backend = Literal["auto", "insightface", "yunet", "haar"]
LicenceAnswer = Literal["unasked", "accepted", "declined"]


class FacesPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = 1
    backend: Backend = "auto"
    profile: str = "character"  # a bundled profile name or a YAML file path
    analyze_on_open: bool = True
    show_face_boxes: bool = True
    insightface_licence: LicenceAnswer = "unasked"
    export_crop_edges: dict[str, int] = Field(default_factory=dict)
    export_face_crop: bool = False
    export_face_size: int = Field(1024, ge=64, le=8192)
    export_face_ratio: float = Field(0.6, ge=0.05, le=1.0)


def faces_prefs_path() -> Path:
    return paths.config_dir() / FACES_PREFS_FILE


def load_faces_prefs(path: Path | None = None) -> FacesPreferences:
    path = path or faces_prefs_path()
    if not path.exists():
        return FacesPreferences()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("the file does not hold a mapping of settings")
        return FacesPreferences.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
        backup = path.with_name(f"{path.name}.invalid-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(backup)
        except OSError:
            backup = path
        log.warning("Face preferences in %s are unreadable (%s); defaults used, file kept as %s",
                    path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, backup)  # fmt: skip
        return FacesPreferences()


def save_faces_prefs(prefs: FacesPreferences, path: Path | None = None) -> None:
    """Write atomically (temp file + rename); errors are logged, never raised to the UI."""
    path = path or faces_prefs_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        text = "# Likeness face-analysis preferences\n"
        text += yaml.safe_dump(prefs.model_dump(), sort_keys=False, allow_unicode=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.error("Cannot save face preferences to %s: %s", path, exc)
