"""The user's settings of one dataset: trigger token, declared identity line, profile.

Typed (:class:`DatasetSettings`), stored in the state's own ``settings`` table (one JSON
value per key: they are decisions the user made, not cache entries), and read the same way
by the caption lint, autocaption, ``--headless``, the CLI and the GUI through
``Workspace.settings()`` / ``Workspace.set_settings()``.

Older states kept them in the generic cache under ``("dataset", "settings")``; the first
read moves them here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Protocol

from curation.state import StateDB

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "character"
LEGACY_NS, LEGACY_KEY = "dataset", "settings"
_KOHYA = re.compile(r"^\d+_(.+)$")


@dataclass(frozen=True)
class DatasetSettings:
    """``trigger``: the token that binds the identity ("" when not chosen yet);
    ``identity_line``: the one identity description allowed, word for word ("" none);
    ``profile``: the balance profile (name or YAML file) that sets tiers and word budget."""

    trigger: str = ""
    identity_line: str = ""
    profile: str = DEFAULT_PROFILE

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, raw: object) -> DatasetSettings:
        """From stored values: unknown keys and non-text values are ignored (logged)."""
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for key, value in raw.items():
            if key in known and isinstance(value, str):
                values[key] = value
            else:
                log.info("dataset settings: ignoring %r = %r", key, value)
        if not values.get("profile"):
            values.pop("profile", None)
        return cls(**values)


class _Item(Protocol):
    @property
    def path(self) -> Path: ...


class Workspace(Protocol):
    """What this module needs of ``curation.workspace.Workspace`` (no import cycle)."""

    db: StateDB
    root: Path

    @property
    def items(self) -> Sequence[_Item]: ...

    def cache_get(self, namespace: str, key: str, default: object = None) -> object: ...

    def cache_delete(self, namespace: str, key: str | None = None) -> None: ...

    def settings(self) -> DatasetSettings: ...


def read_settings(workspace: Workspace) -> DatasetSettings:
    """The stored settings (defaults when none), moving legacy cache entries over once."""
    rows = workspace.db.query("SELECT key, value FROM settings")
    if not rows:
        legacy = workspace.cache_get(LEGACY_NS, LEGACY_KEY)
        if isinstance(legacy, dict) and legacy:
            settings = DatasetSettings.from_mapping(legacy)
            try:
                write_settings(workspace, settings)
                workspace.cache_delete(LEGACY_NS, LEGACY_KEY)
            except Exception as exc:  # noqa: BLE001 - read-only state: keep using the legacy
                log.info("dataset settings not migrated: %s", exc)
            return settings
        return DatasetSettings()
    raw: dict[str, object] = {}
    for key, text in rows:
        try:
            raw[key] = json.loads(text)
        except ValueError:
            log.warning("dataset settings: damaged value of %r ignored", key)
    return DatasetSettings.from_mapping(raw)


def write_settings(workspace: Workspace, settings: DatasetSettings) -> None:
    """Store ``settings`` (one transaction; the old values are replaced)."""
    rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in settings.to_dict().items()]
    with workspace.db.tx() as conn:
        conn.execute("DELETE FROM settings")
        conn.executemany("INSERT INTO settings VALUES(?, ?)", rows)


def guess_trigger(workspace: Workspace) -> str:
    """The trigger a kohya folder name implies (``10_l3yla`` -> ``l3yla``), else ""."""
    names = {item.path.parent.name for item in workspace.items[:200]}
    names.add(workspace.root.name)
    for name in sorted(names):
        m = _KOHYA.match(name)
        if m and " " not in m.group(1):
            return m.group(1)
    return ""


def settings_or_guess(workspace: Workspace) -> DatasetSettings:
    """The stored settings, with the kohya folder name's trigger when none is stored (what
    the app proposes when a dataset opens)."""
    settings = workspace.settings()
    if not settings.trigger:
        guessed = guess_trigger(workspace)
        if guessed:
            return DatasetSettings(guessed, settings.identity_line, settings.profile)
    return settings
