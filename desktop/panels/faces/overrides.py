"""Right-click overrides on the grid: tier, pose, back view, identity reviewed, exclude.

Overrides are stored in the workspace (``Workspace.set_override``), so the analysis, the
report, the CLI and exports all see them; the verdicts are re-derived at once (no image is
decoded again). The menu acts on every selected tile.

The actions are added to the grid with ``Qt.ActionsContextMenu``, so other panels can add
their own entries to the same menu with ``grid.addAction``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

log = logging.getLogger(__name__)

TIER_CHOICES = [(None, "As measured"), ("close-up", "Close-up"), ("medium", "Medium shot"),
                ("full-body", "Full body")]  # fmt: skip
POSE_CHOICES = [(None, "As measured"), ("frontal", "Frontal"),
                ("three-quarter", "Three-quarter"), ("profile", "Profile")]  # fmt: skip
BACK_CHOICES = [(None, "Not decided"), (True, "Yes, a back view"),
                (False, "No, not a back view")]  # fmt: skip


class FaceOverrides(QObject):
    """Builds the context-menu actions and writes overrides for the selected images."""

    changed = Signal(list)  # rels whose overrides changed

    def __init__(self, session, selected: Callable[[], list[str]], parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.selected = selected
        self.menus: dict[str, QMenu] = {}

    def set_override(self, rels: list[str], key: str, value: object) -> None:
        ws = self.session.workspace
        if ws is None or not rels:
            return
        done = []
        try:  # one undo step for the whole selection
            result = self.session.set_override(rels, key, value)
            done = list(result.meta) if result is not None else []
        except Exception as exc:  # noqa: BLE001 - reported, never a crash
            log.error("Cannot store the %s override of %d images: %s", key, len(rels), exc)
        if done:
            log.info("Override %s=%r on %d images", key, value, len(done))
            self.changed.emit(done)

    def current(self, key: str) -> object:
        """The override value shared by the selection (``...`` when it differs)."""
        ws = self.session.workspace
        rels = self.selected()
        if ws is None or not rels:
            return ...
        values = {repr(ws.overrides(rel).get(key)) for rel in rels}
        return ws.overrides(rels[0]).get(key) if len(values) == 1 else ...

    def _menu(self, parent, title: str, key: str, choices) -> QMenu:
        menu = QMenu(title, parent)
        group = QActionGroup(menu)
        actions = []
        for value, label in choices:
            act = QAction(label, menu)
            act.setCheckable(True)
            act.setData(value)
            group.addAction(act)
            menu.addAction(act)
            act.triggered.connect(
                lambda _c=False, v=value: self.set_override(self.selected(), key, v)
            )
            actions.append(act)

        def sync() -> None:
            cur = self.current(key)
            for act in actions:
                act.setChecked(
                    cur is not ... and act.data() == cur and type(act.data()) is type(cur)
                )

        menu.aboutToShow.connect(sync)
        self.menus[key] = menu
        return menu

    def install(self, grid, exclude_action: QAction | None = None) -> list[QAction]:
        """Add the override entries to ``grid``'s context menu; returns the actions."""
        tier = self._menu(grid, "Shot tier", "tier", TIER_CHOICES)
        pose = self._menu(grid, "Head pose", "pose", POSE_CHOICES)
        back = self._menu(grid, "Back view", "back_view", BACK_CHOICES)
        ident = QAction("Same person (identity checked)", grid)
        ident.setCheckable(True)
        ident.setToolTip("Mark an identity warning as checked: the face is the character")
        ident.triggered.connect(
            lambda checked: self.set_override(
                self.selected(), "identity", "ok" if checked else None
            )
        )
        grid.selectionModel().selectionChanged.connect(lambda *_: self.sync_identity())
        sep = QAction(grid)
        sep.setSeparator(True)
        actions = [tier.menuAction(), pose.menuAction(), back.menuAction(), ident]
        if exclude_action is not None:
            actions += [sep, exclude_action]
        if grid.contextMenuPolicy() != Qt.ContextMenuPolicy.ActionsContextMenu:
            grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        grid.addActions(actions)
        self._ident = ident
        return actions

    def sync_identity(self) -> None:
        self._ident.setChecked(self.current("identity") == "ok")
