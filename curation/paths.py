"""Where Likeness keeps things outside the user's dataset folder.

Every location can be overridden with an environment variable (tests use this to isolate
themselves): ``LIKENESS_CONFIG_DIR``, ``LIKENESS_CACHE_DIR``, ``LIKENESS_MODEL_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "likeness"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value).expanduser() if value else Path(default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Preferences (YAML), recent folders, user lexicons and profiles."""
    import platformdirs

    return _dir("LIKENESS_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME))


def cache_dir() -> Path:
    """Rebuildable data: thumbnails, state for read-only datasets, latents."""
    import platformdirs

    return _dir("LIKENESS_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME))


def model_dir() -> Path:
    """Model files (YuNet, SFace, ...) under their official file names."""
    import platformdirs

    return _dir("LIKENESS_MODEL_DIR", os.path.join(platformdirs.user_data_dir(APP_NAME), "models"))


def log_dir() -> Path:
    return _dir("LIKENESS_LOG_DIR", str(cache_dir() / "logs"))
