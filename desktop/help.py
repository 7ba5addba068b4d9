"""The Help menu: keyboard shortcuts, where Likeness keeps its files, the log, About.

Versions in About come from package metadata, so opening it never imports torch; the CUDA
build is read from torch's version tag (``2.5.1+cu124``) or, when torch is already loaded,
from ``torch.version.cuda`` with whether a GPU is usable.
"""

from __future__ import annotations

import logging
import sys
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from curation import paths
from desktop.logging_setup import log_file_path
from desktop.widgets.common import make_action

log = logging.getLogger(__name__)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def cuda_summary() -> str:
    """The CUDA build of the installed torch, without importing torch when it is not loaded."""
    torch = sys.modules.get("torch")
    if torch is not None:
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        if not cuda:
            return "none (CPU-only torch)"
        try:
            usable = bool(torch.cuda.is_available())
        except Exception:  # noqa: BLE001 (a broken driver must not break About)
            usable = False
        return f"{cuda} ({'GPU available' if usable else 'no usable GPU'})"
    version = package_version("torch")
    if version == "not installed":
        return "unknown (torch not installed)"
    tag = version.partition("+")[2]
    if tag.startswith("cu") and tag[2:].isdigit():
        digits = tag[2:]
        return f"{digits[:-1]}.{digits[-1]} build (checked when training starts)"
    if tag == "cpu":
        return "none (CPU-only torch)"
    return "default build of torch (checked when training starts)"


def versions() -> list[tuple[str, str]]:
    from PySide6 import __version__ as pyside_version

    from curation import __version__ as likeness_version

    return [
        ("Likeness", likeness_version),
        ("Python", sys.version.split()[0]),
        ("PySide6", pyside_version),
        ("torch", package_version("torch")),
        ("CUDA", cuda_summary()),
        ("diffusers", package_version("diffusers")),
        ("transformers", package_version("transformers")),
        ("peft", package_version("peft")),
    ]


def file_locations() -> list[tuple[str, Path]]:
    return [
        ("Preferences and profiles", paths.config_dir()),
        ("Thumbnails and caches", paths.cache_dir()),
        ("Downloaded models", paths.model_dir()),
        ("Log file", log_file_path()),
    ]


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every menu action with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} › {action.menu().title().replace('&', '')}")
                continue
            if action.isSeparator() or id(action) in seen or not action.shortcuts():
                continue
            seen.add(id(action))
            keys = ", ".join(
                k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
            )
            rows.append((path, action.text().replace("&&", "\0").replace("&", ""), keys))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), top.menu().title().replace("&", ""))
    for action in window.actions():  # window-only actions (zoom) have no menu
        if id(action) not in seen and action.shortcuts():
            seen.add(id(action))
            keys = ", ".join(
                k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
            )
            rows.append(("Image", action.text().replace("&", ""), keys))
    return [(m, t.replace("\0", "&"), k) for m, t, k in rows]


class ShortcutsDialog(QDialog):
    """A table of every shortcut, read from the window's actions (never out of date)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        rows = shortcut_rows(window)
        extra = [
            ("Grid", "Edit the caption of the current image", "Enter"),
            ("Grid", "Thumbnail size", "Ctrl+wheel"),
        ]
        rows = rows + extra
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, c, item)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(620, 520)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Likeness")
        self.setObjectName("aboutDialog")
        lines = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in versions())
        where = "".join(
            f"<tr><td><b>{k}</b></td><td>{_html(str(p))}</td></tr>" for k, p in file_locations()
        )
        self.text = QLabel(
            "<h3>Likeness</h3><p>Curate a dataset and train a character LoRA for "
            f"Z-Image-Turbo.</p><table>{lines}</table><h4>Where files live</h4>"
            f"<table>{where}</table><p>Your dataset folders hold your images and "
            "captions; Likeness keeps its own notes in a <code>.likeness</code> folder "
            "inside each.</p>"
        )
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def open_path(path: Path) -> bool:
    """Show ``path`` in the system file manager (its folder for a file)."""
    target = path if path.is_dir() else path.parent
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
    if not ok:
        log.warning("Could not open %s in the file manager", target)
    return ok


class HelpMenu:
    """Adds the Help menu to ``window``; its actions are attributes for tests."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.shortcuts_dialog: ShortcutsDialog | None = None
        A = make_action  # noqa: N806
        self.act_shortcuts = A(
            window, "&Keyboard shortcuts", None, ["Ctrl+/", "F1"], self.show_shortcuts
        )
        self.act_data = A(
            window,
            "Open &data folder",
            None,
            None,
            lambda: open_path(paths.config_dir()),
            tip="Open the folder with your preferences, profiles and lexicons",
        )
        self.act_models = A(
            window,
            "Open &models folder",
            None,
            None,
            lambda: open_path(paths.model_dir()),
            tip="Open the folder where model files are kept",
        )
        self.act_logfile = A(
            window,
            "Open log &file",
            None,
            None,
            lambda: open_path(log_file_path()),
            tip="Open the folder holding likeness.log (attach it to a bug report)",
        )
        self.act_about = A(window, "&About Likeness", None, None, self.show_about)
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        menu = window.menuBar().addMenu("&Help")
        menu.setObjectName("helpMenu")
        menu.addAction(self.act_shortcuts)
        menu.addSeparator()
        menu.addActions([self.act_data, self.act_models, self.act_logfile])
        menu.addSeparator()
        menu.addAction(self.act_about)
        self.menu = menu
        self.about_dialog: AboutDialog | None = None

    def show_shortcuts(self) -> ShortcutsDialog:
        self.shortcuts_dialog = ShortcutsDialog(self.window)
        self.shortcuts_dialog.show()
        return self.shortcuts_dialog

    def show_about(self) -> AboutDialog:
        self.about_dialog = AboutDialog(self.window)
        self.about_dialog.show()
        return self.about_dialog
