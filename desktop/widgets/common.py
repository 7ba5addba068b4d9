"""Small shared helpers for widgets: icons and shortcut-aware tooltips."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QAction, QIcon, QKeySequence

from resources import resource_path


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg`` (an empty icon if missing)."""
    path = resource_path("icons", f"{name}.svg")
    if not path.is_file():
        return QIcon()
    from desktop.widgets.icons import themed_icon  # noqa: PLC0415

    return themed_icon(path.read_text(encoding="utf-8"))


def make_action(
    parent,
    text: str,
    icon_name: str | None = None,
    shortcut=None,
    slot=None,
    tip: str | None = None,
) -> QAction:
    """A ``QAction`` whose tooltip names its shortcut ("Undo (Ctrl+Z)")."""
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
    keys: list[QKeySequence] = []
    if shortcut is not None:
        for s in shortcut if isinstance(shortcut, list | tuple) else [shortcut]:
            keys.append(s if isinstance(s, QKeySequence) else QKeySequence(s))
        action.setShortcuts(keys)
    label = (tip or text).replace("&", "")
    if keys:
        label += f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(label)
    action.setStatusTip(label)
    if slot is not None:
        action.triggered.connect(slot)
    return action
