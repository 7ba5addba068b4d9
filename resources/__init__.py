"""Data only: lexicons, profiles, presets, default prompts, icons."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Path of a bundled data file, e.g. ``resource_path("profiles", "character.yaml")``."""
    return ROOT.joinpath(*parts)
