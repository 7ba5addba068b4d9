"""Themes: dark (the default), light, and "follow the system" (Fusion style, a palette and
a stylesheet written once with colour tokens, ``@NAME@``, filled from one table per theme).

Panels that style themselves use ``palette(...)`` in their stylesheets so they follow too.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from resources import resource_path

log = logging.getLogger(__name__)

ACCENT = "#4f8cff"
THEMES = ("dark", "light", "system")

DARK = {
    "WINDOW": "#1b1e23",
    "BAR": "#20242a",
    "BORDER": "#2c313a",
    "HOVER": "#2d333d",
    "PRESSED": "#36404d",
    "DISABLED": "#5c636e",
    "DIM": "#aeb6c2",
    "HANDLE": "#2a2f37",
    "BASE": "#14171b",
    "FIELD_BORDER": "#303641",
    "SELECTION": "#35538a",
    "BUTTON": "#2b313a",
    "BUTTON_BORDER": "#394150",
    "BUTTON_HOVER": "#333a45",
    "DISABLED_TEXT": "#646b76",
    "DISABLED_BG": "#23272e",
    "TITLE": "#e9ecf1",
    "HINT": "#8b93a0",
    "TEXT": "#e6e8ec",
    "PANEL": "#1f2329",
    "MENU": "#242931",
    "MENU_BORDER": "#353c47",
    "INDICATOR": "#5a6372",
    "INDICATOR_OFF": "#353b45",
    "TIP_BORDER": "#3f4754",
    "PROGRESS_TEXT": "#cfd5de",
    "INFO_BG": "#2a3342",
    "INFO_BORDER": "#3a4658",
    "WARN_BG": "#3b3120",
    "WARN_BORDER": "#6b5526",
    "ERR_BG": "#40232a",
    "ERR_BORDER": "#74323d",
    "ERRBOX_BG": "#3a2326",
    "ERRBOX_FG": "#ffb4b4",
    "ERRBOX_BORDER": "#6b2f36",
    "LINK": "#7fb0ff",
    "OK": "#6fcf97",
    "ERROR": "#ff8a8a",
}
LIGHT = {
    "WINDOW": "#f4f5f7",
    "BAR": "#e9ebef",
    "BORDER": "#c9ced6",
    "HOVER": "#dde2ea",
    "PRESSED": "#cfd6e2",
    "DISABLED": "#a3a9b3",
    "DIM": "#4a5260",
    "HANDLE": "#d2d6dd",
    "BASE": "#ffffff",
    "FIELD_BORDER": "#b9c0ca",
    "SELECTION": "#b7cdf5",
    "BUTTON": "#ffffff",
    "BUTTON_BORDER": "#b9c0ca",
    "BUTTON_HOVER": "#eef1f6",
    "DISABLED_TEXT": "#a3a9b3",
    "DISABLED_BG": "#eceef1",
    "TITLE": "#1b1e23",
    "HINT": "#5f6773",
    "TEXT": "#1d2128",
    "PANEL": "#eceef2",
    "MENU": "#ffffff",
    "MENU_BORDER": "#c9ced6",
    "INDICATOR": "#8a93a3",
    "INDICATOR_OFF": "#cfd3da",
    "TIP_BORDER": "#b9c0ca",
    "PROGRESS_TEXT": "#1d2128",
    "INFO_BG": "#dde8fb",
    "INFO_BORDER": "#b4c9ee",
    "WARN_BG": "#fbefd5",
    "WARN_BORDER": "#e3c47a",
    "ERR_BG": "#fadadd",
    "ERR_BORDER": "#e39aa4",
    "ERRBOX_BG": "#fde4e6",
    "ERRBOX_FG": "#8a1f2b",
    "ERRBOX_BORDER": "#e39aa4",
    "LINK": "#2a64d6",
    "OK": "#1e8a4c",
    "ERROR": "#c62f3d",
}

STYLESHEET = """
QMainWindow, QDialog { background: @WINDOW@; }
QToolBar { background: @BAR@; border: none; border-bottom: 1px solid @BORDER@; spacing: 4px;
           padding: 4px 6px; }
QToolBar QToolButton { padding: 5px; border-radius: 6px; }
QToolBar QToolButton:hover { background: @HOVER@; }
QToolBar QToolButton:pressed { background: @PRESSED@; }
QToolButton:disabled { color: @DISABLED@; }
QStatusBar { background: @BAR@; border-top: 1px solid @BORDER@; color: @DIM@; }
QStatusBar QLabel { padding: 0 6px; }
QListView#thumbnailGrid { background: @WINDOW@; border: none; }
QSplitter::handle { background: @HANDLE@; }
QSplitter::handle:horizontal { width: 2px; }
QSplitter::handle:vertical { height: 2px; }
QPlainTextEdit, QLineEdit, QTextBrowser, QComboBox, QSpinBox, QDoubleSpinBox {
    background: @BASE@; border: 1px solid @FIELD_BORDER@; border-radius: 6px; padding: 4px 6px;
    selection-background-color: @SELECTION@; }
QPlainTextEdit:focus, QLineEdit:focus { border: 1px solid #4f8cff; }
QPlainTextEdit { font-size: 11pt; }
QPushButton { background: @BUTTON@; border: 1px solid @BUTTON_BORDER@; border-radius: 6px;
              padding: 6px 14px; }
QPushButton:hover { background: @BUTTON_HOVER@; }
QPushButton:disabled { color: @DISABLED_TEXT@; background: @DISABLED_BG@; border-color: @BORDER@; }
QPushButton#primaryButton { background: #3d6fd9; border: 1px solid #4f8cff; color: white;
                            font-weight: 600; padding: 8px 22px; }
QPushButton#primaryButton:hover { background: #4a7be6; }
QPushButton#primaryButton:disabled { background: @DISABLED_BG@; border: 1px solid @BORDER@;
                                     color: @DISABLED_TEXT@; font-weight: 400; }
QPushButton#linkButton { background: transparent; border: none; color: @LINK@; padding: 2px 6px; }
QPushButton#linkButton:hover { text-decoration: underline; }
QLabel#emptyTitle { font-size: 22pt; font-weight: 600; color: @TITLE@; }
QLabel#emptySub, QLabel#hint, QLabel#imageInfo, QLabel#zoomLabel { color: @HINT@; }
QLabel#editorTitle { font-weight: 600; color: @TEXT@; }
QLabel#counts { color: @DIM@; }
QLabel#saveState[level="ok"] { color: @OK@; }
QLabel#saveState[level="error"] { color: @ERROR@; font-weight: 600; }
QLabel#errorBanner { background: @ERRBOX_BG@; color: @ERRBOX_FG@; border: 1px solid @ERRBOX_BORDER@;
                     border-radius: 6px; padding: 6px 8px; }
QLabel#previewCount[level="error"] { color: @ERROR@; }
QLabel#previewCount[level="ok"] { color: @OK@; }
QWidget#notificationBanner { background: @INFO_BG@; border-bottom: 1px solid @INFO_BORDER@; }
QWidget#notificationBanner[level="warning"] { background: @WARN_BG@; border-bottom: 1px solid @WARN_BORDER@; }
QWidget#notificationBanner[level="error"] { background: @ERR_BG@; border-bottom: 1px solid @ERR_BORDER@; }
QWidget#filterBar { background: @PANEL@; border-bottom: 1px solid @HANDLE@; }
QWidget#captionEditor { background: @PANEL@; }
QSlider::groove:horizontal { height: 4px; background: @BUTTON_BORDER@; border-radius: 2px; }
QSlider::handle:horizontal { background: #4f8cff; width: 14px; margin: -6px 0; border-radius: 7px; }
QProgressBar { background: @BASE@; border: 1px solid @FIELD_BORDER@; border-radius: 5px;
               text-align: center; color: @PROGRESS_TEXT@; max-height: 16px; }
QProgressBar::chunk { background: #3d6fd9; border-radius: 4px; }
QMenu { background: @MENU@; border: 1px solid @MENU_BORDER@; }
QMenu::item { padding: 5px 22px; }
QMenu::item:selected { background: @SELECTION@; }
QCheckBox::indicator, QRadioButton::indicator { width: 14px; height: 14px;
    border: 1px solid @INDICATOR@; background: @BASE@; }
QCheckBox::indicator { border-radius: 3px; }
QRadioButton::indicator { border-radius: 8px; }
QCheckBox::indicator:hover, QRadioButton::indicator:hover { border-color: #4f8cff; }
QCheckBox::indicator:checked { background: #3d6fd9; border-color: #4f8cff; image: url(@CHECK@); }
QRadioButton::indicator:checked { border-color: #4f8cff; background: qradialgradient(cx:0.5,
    cy:0.5, radius:0.5, fx:0.5, fy:0.5, stop:0 #ffffff, stop:0.32 #ffffff, stop:0.42 #3d6fd9,
    stop:1 #3d6fd9); }
QCheckBox::indicator:disabled, QRadioButton::indicator:disabled { border-color: @INDICATOR_OFF@; }
QToolTip { background: @BUTTON@; color: @TEXT@; border: 1px solid @TIP_BORDER@; padding: 4px; }
"""


def system_scheme() -> Qt.ColorScheme:
    """What the platform says it uses (Unknown where it does not say, e.g. offscreen)."""
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() if hints is not None else Qt.ColorScheme.Unknown


def resolve(name: str) -> str:
    """``dark`` or ``light`` for a theme preference; ``system`` asks the platform (dark when
    it does not say)."""
    if name in ("dark", "light"):
        return name
    return "light" if system_scheme() == Qt.ColorScheme.Light else "dark"


def stylesheet(colours: dict[str, str]) -> str:
    text = STYLESHEET
    for token, colour in colours.items():
        text = text.replace(f"@{token}@", colour)
    check = resource_path("icons", "check.svg").as_posix()
    return text.replace("@CHECK@", check)


def apply_theme(app: QApplication, name: str = "dark") -> str:
    """Apply theme ``name`` (dark, light or system); returns the one applied."""
    if name not in THEMES:
        log.warning("Unknown theme %r; using dark", name)
        name = "dark"
    resolved = resolve(name)
    c = LIGHT if resolved == "light" else DARK
    app.setStyle("Fusion")
    pal = QPalette()
    colours = {
        QPalette.ColorRole.Window: c["WINDOW"],
        QPalette.ColorRole.WindowText: c["TEXT"],
        QPalette.ColorRole.Base: c["BASE"],
        QPalette.ColorRole.AlternateBase: c["BAR"],
        QPalette.ColorRole.ToolTipBase: c["BUTTON"],
        QPalette.ColorRole.ToolTipText: c["TEXT"],
        QPalette.ColorRole.PlaceholderText: c["HINT"],
        QPalette.ColorRole.Text: c["TEXT"],
        QPalette.ColorRole.Button: c["BUTTON"],
        QPalette.ColorRole.ButtonText: c["TEXT"],
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: c["LINK"],
        QPalette.ColorRole.Mid: c["BORDER"],
    }
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(c["DISABLED_TEXT"]))
    app.setPalette(pal)
    app.setStyleSheet(stylesheet(c))
    app.setProperty("likeness_theme", resolved)
    return resolved


def apply_dark_theme(app: QApplication) -> None:
    apply_theme(app, "dark")


class ThemeFollower(QObject):
    """Applies the theme preference to the running app, only when it changes, and re-applies
    it when the platform switches between light and dark while the preference is "system"."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)  # a child of the window: the connection ends with it
        self.name = ""
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(self._on_scheme_changed)

    def apply(self, name: str) -> str:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return ""
        current = app.property("likeness_theme")
        self.name = name
        wanted = resolve(name) if name in THEMES else "dark"
        if current == wanted:
            return wanted
        return apply_theme(app, name)

    def _on_scheme_changed(self, _scheme) -> None:
        app = QApplication.instance()
        if self.name == "system" and isinstance(app, QApplication):
            apply_theme(app, "system")
