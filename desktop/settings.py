"""App preferences: one human-readable YAML file in ``curation.paths.config_dir()``.

QSettings is used only for window geometry, stored as an INI file next to the YAML so tests
that point ``LIKENESS_CONFIG_DIR`` at a temp folder stay isolated.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curation import paths
from curation.errors import LikenessError

log = logging.getLogger(__name__)

PREFERENCES_FILE = "preferences.yaml"
GEOMETRY_FILE = "window.ini"
MAX_RECENT = 10
THUMB_MIN, THUMB_MAX = 96, 384


class PreferencesError(LikenessError):
    """The preferences file could not be read; defaults are used and the file is kept."""


class Preferences(BaseModel):
    """Everything the user can set in the Preferences dialog (plus recent folders)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = 1
    thumbnail_size: int = Field(192, ge=THUMB_MIN, le=THUMB_MAX)
    show_caption_snippet: bool = True
    autosave_delay_ms: int = Field(600, ge=100, le=10_000)
    max_image_megapixels: float = Field(178.0, gt=0, le=2000)
    recursive_scan: bool = True
    recent_folders: list[str] = Field(default_factory=list)
    comfyui_dir: str = ""  # the user's ComfyUI folder ("Send to ComfyUI"; "" = not set)
    theme: Literal["dark", "light", "system"] = "dark"
    toolbar_labels: Literal["beside", "under", "none"] = "beside"
    # Train tab: where run folders go ("" = ~/Likeness/runs)
    training_folder: str = ""

    def add_recent(self, folder: str | os.PathLike[str]) -> None:
        """Move ``folder`` to the top of the recent list (deduplicated, at most 10)."""
        text = str(Path(folder).expanduser().resolve())
        items = [text] + [f for f in self.recent_folders if f != text]
        self.recent_folders = items[:MAX_RECENT]


def preferences_path() -> Path:
    return paths.config_dir() / PREFERENCES_FILE


def geometry_ini_path() -> Path:
    return paths.config_dir() / GEOMETRY_FILE


def load_preferences(path: Path | None = None) -> Preferences:
    """Read the preferences; on a broken file keep it aside (never wipe it) and use defaults."""
    return load_yaml_model(path or preferences_path(), Preferences, "Preferences")


def save_preferences(prefs: Preferences, path: Path | None = None) -> None:
    """Write the preferences atomically (temp file + rename)."""
    save_yaml_model(
        prefs,
        path or preferences_path(),
        "Likeness preferences (edit with care; unknown keys are rejected)",
    )


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], label: str) -> M:
    """Validate a YAML settings file into ``model``. A missing file gives the defaults; a
    broken one is moved aside as ``<name>.invalid-<time>`` (never wiped), logged, and the
    defaults are used."""
    if not path.exists():
        return model()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise PreferencesError("the file does not hold a mapping of settings")
        return model.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError, PreferencesError) as exc:
        backup = path.with_name(f"{path.name}.invalid-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(backup)
            where = f"it was kept as {backup}"
        except OSError:
            where = "it could not be moved aside"
        log.warning(
            "%s in %s could not be read (%s); using defaults, %s.", label, path, _short(exc), where
        )
        return model()


def save_yaml_model(settings: BaseModel, path: Path, header: str) -> None:
    """Write ``settings`` as commented YAML with the one atomic writer (:mod:`curation.fsio`:
    temp file created exclusively, fsync, rename; a link at ``path`` is replaced by the file,
    its target never written)."""
    from curation.fsio import write_atomic_text

    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"# {header}\n"
    text += yaml.safe_dump(settings.model_dump(), sort_keys=False, allow_unicode=True)
    write_atomic_text(path, text, replace_link=True)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
