"""The dark theme: Fusion style, a dark palette and a small stylesheet."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from resources import resource_path

ACCENT = "#4f8cff"

STYLESHEET = """
QMainWindow, QDialog { background: #1b1e23; }
QToolBar { background: #20242a; border: none; border-bottom: 1px solid #2c313a; spacing: 4px;
           padding: 4px 6px; }
QToolBar QToolButton { padding: 5px; border-radius: 6px; }
QToolBar QToolButton:hover { background: #2d333d; }
QToolBar QToolButton:pressed { background: #36404d; }
QToolButton:disabled { color: #5c636e; }
QStatusBar { background: #20242a; border-top: 1px solid #2c313a; color: #aeb6c2; }
QStatusBar QLabel { padding: 0 6px; }
QListView#thumbnailGrid { background: #1b1e23; border: none; }
QSplitter::handle { background: #2a2f37; }
QSplitter::handle:horizontal { width: 2px; }
QSplitter::handle:vertical { height: 2px; }
QPlainTextEdit, QLineEdit, QTextBrowser, QComboBox, QSpinBox, QDoubleSpinBox {
    background: #14171b; border: 1px solid #303641; border-radius: 6px; padding: 4px 6px;
    selection-background-color: #35538a; }
QPlainTextEdit:focus, QLineEdit:focus { border: 1px solid #4f8cff; }
QPlainTextEdit { font-size: 11pt; }
QPushButton { background: #2b313a; border: 1px solid #394150; border-radius: 6px;
              padding: 6px 14px; }
QPushButton:hover { background: #333a45; }
QPushButton:disabled { color: #646b76; background: #23272e; }
QPushButton#primaryButton { background: #3d6fd9; border: 1px solid #4f8cff; color: white;
                            font-weight: 600; padding: 8px 22px; }
QPushButton#primaryButton:hover { background: #4a7be6; }
QPushButton#primaryButton:disabled { background: #2b3a5a; color: #8b97ad; }
QPushButton#linkButton { background: transparent; border: none; color: #7fb0ff; padding: 2px 6px; }
QPushButton#linkButton:hover { text-decoration: underline; }
QLabel#emptyTitle { font-size: 22pt; font-weight: 600; color: #e9ecf1; }
QLabel#emptySub, QLabel#hint, QLabel#imageInfo, QLabel#zoomLabel { color: #8b93a0; }
QLabel#editorTitle { font-weight: 600; color: #e6e8ec; }
QLabel#counts { color: #aeb6c2; }
QLabel#saveState[level="ok"] { color: #6fcf97; }
QLabel#saveState[level="error"] { color: #ff8a8a; font-weight: 600; }
QLabel#errorBanner { background: #3a2326; color: #ffb4b4; border: 1px solid #6b2f36;
                     border-radius: 6px; padding: 6px 8px; }
QLabel#previewCount[level="error"] { color: #ff8a8a; }
QLabel#previewCount[level="ok"] { color: #6fcf97; }
QWidget#notificationBanner { background: #2a3342; border-bottom: 1px solid #3a4658; }
QWidget#notificationBanner[level="warning"] { background: #3b3120; border-bottom: 1px solid #6b5526; }
QWidget#notificationBanner[level="error"] { background: #40232a; border-bottom: 1px solid #74323d; }
QWidget#filterBar { background: #1f2329; border-bottom: 1px solid #2a2f37; }
QWidget#captionEditor { background: #1f2329; }
QSlider::groove:horizontal { height: 4px; background: #394150; border-radius: 2px; }
QSlider::handle:horizontal { background: #4f8cff; width: 14px; margin: -6px 0; border-radius: 7px; }
QProgressBar { background: #14171b; border: 1px solid #303641; border-radius: 5px;
               text-align: center; color: #cfd5de; max-height: 16px; }
QProgressBar::chunk { background: #3d6fd9; border-radius: 4px; }
QMenu { background: #242931; border: 1px solid #353c47; }
QMenu::item { padding: 5px 22px; }
QMenu::item:selected { background: #35538a; }
QCheckBox::indicator, QRadioButton::indicator { width: 14px; height: 14px;
    border: 1px solid #5a6372; background: #14171b; }
QCheckBox::indicator { border-radius: 3px; }
QRadioButton::indicator { border-radius: 8px; }
QCheckBox::indicator:hover, QRadioButton::indicator:hover { border-color: #4f8cff; }
QCheckBox::indicator:checked { background: #3d6fd9; border-color: #4f8cff; image: url(@CHECK@); }
QRadioButton::indicator:checked { border-color: #4f8cff; background: qradialgradient(cx:0.5,
    cy:0.5, radius:0.5, fx:0.5, fy:0.5, stop:0 #ffffff, stop:0.32 #ffffff, stop:0.42 #3d6fd9,
    stop:1 #3d6fd9); }
QCheckBox::indicator:disabled, QRadioButton::indicator:disabled { border-color: #353b45; }
QToolTip { background: #2b313a; color: #e6e8ec; border: 1px solid #3f4754; padding: 4px; }
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#1b1e23",
        QPalette.ColorRole.WindowText: "#e6e8ec",
        QPalette.ColorRole.Base: "#14171b",
        QPalette.ColorRole.AlternateBase: "#20242a",
        QPalette.ColorRole.ToolTipBase: "#2b313a",
        QPalette.ColorRole.ToolTipText: "#e6e8ec",
        QPalette.ColorRole.PlaceholderText: "#6b7380",
        QPalette.ColorRole.Text: "#e6e8ec",
        QPalette.ColorRole.Button: "#2b313a",
        QPalette.ColorRole.ButtonText: "#e6e8ec",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7fb0ff",
    }
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#646b76"))
    app.setPalette(pal)
    check = resource_path("icons", "check.svg").as_posix()
    app.setStyleSheet(STYLESHEET.replace("@CHECK@", check))
