# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""What a new user sees: toolbar labels and tooltips, disabled looks, counts that follow the
filter, badges on small tiles, light theme and "follow the system"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication, QToolButton
from test_gui_fixtures import dataset, open_and_wait, window

from desktop.models.filter_proxy import FilterMode
from desktop.widgets.thumbnail_delegate import compact_badges

pytestmark = pytest.mark.gui


def _buttons(win):
    tb = win.toolbar
    return [
        (a, tb.widgetForAction(a))
        for a in tb.actions()
        if not a.isSeparator() and isinstance(tb.widgetForAction(a), QToolButton)
    ]


def _mean(image: QImage) -> float:
    """Mean brightness of an image (a few hundred pixels sampled)."""
    total, n = 0, 0
    for y in range(0, image.height(), max(1, image.height() // 12)):
        for x in range(0, image.width(), max(1, image.width() // 24)):
            c = image.pixelColor(x, y)
            total += c.red() + c.green() + c.blue()
            n += 1
    return total / (3 * n)


def test_toolbar_has_labels_and_tooltips_with_shortcuts(qtbot, window, screenshot_dir):
    window.resize(2400, 900)  # wide: text beside the icons
    buttons = _buttons(window)
    assert len(buttons) >= 10
    for action, button in buttons:
        assert action.iconText(), action.text()
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon, (
            action.iconText()
        )
        if action.shortcuts():  # the tooltip names the shortcut
            key = action.shortcuts()[0].toString()
            assert f"({key})" in action.toolTip(), (action.toolTip(), key)
    window.toolbar.grab().save(str(screenshot_dir / "toolbar_dark.png"))
    # narrow: text under the icons, so every button stays on the bar (none behind »)
    window.resize(window.minimumSizeHint().width(), 700)
    assert window.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon
    window.resize(2400, 900)
    assert window.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    window.prefs = window.prefs.model_copy(update={"toolbar_labels": "under"})
    window.apply_preferences()
    assert all(
        b.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon
        for _a, b in _buttons(window)
    )


def test_disabled_things_look_disabled(qtbot, window):
    # no folder: the toolbar's folder actions are disabled, their icons faint
    act = window.act_bulk
    assert not act.isEnabled()
    normal = act.icon().pixmap(QSize(24, 24), QIcon.Mode.Normal).toImage()
    faint = act.icon().pixmap(QSize(24, 24), QIcon.Mode.Disabled).toImage()
    alpha = [
        sum(img.pixelColor(x, y).alpha() for x in range(24) for y in range(24))
        for img in (normal, faint)
    ]
    assert alpha[1] < alpha[0] * 0.5
    # "Export…" and "Fix all" (primary buttons) are disabled and drawn unlike when enabled
    for button in (window.faces.dashboard.export_btn, window.captions.dock.panel.fix_all_btn):
        assert not button.isEnabled()
        off = _mean(button.grab().toImage())
        button.setEnabled(True)
        on = _mean(button.grab().toImage())
        button.setEnabled(False)
        assert abs(on - off) > 12, (button.text(), on, off)


def test_showing_n_of_m_follows_the_filter_at_once(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    proxy = window.browser.proxy
    proxy.set_filter(FilterMode.UNCAPTIONED)
    # no event loop turn: the label is right as soon as the filter is
    assert f"showing {proxy.rowCount()} of 9" in window.status.selection_label.text()
    proxy.set_filter(FilterMode.ALL)
    assert "showing" not in window.status.selection_label.text()


def test_badges_collapse_on_small_tiles():
    adv = lambda text: 7 * len(text)  # noqa: E731 (a font's advance, 7 px a character)
    three = [("blurry", "#c00"), ("no face", "#d80"), ("low res", "#d80")]
    assert compact_badges(three, 300, adv) == three
    assert compact_badges(three, 130, adv) == [("3 flags", "#c00")]
    assert compact_badges(three, 96, adv) == [("3", "#c00")]
    one = [("wrong person?", "#c00")]
    assert compact_badges(one, 300, adv) == one
    assert compact_badges(one, 96, adv) == [("!", "#c00")]
    # excluded is grey: the marker takes the colour of the first real problem
    assert compact_badges([("excluded", "#666"), *three], 96, adv) == [("4", "#c00")]
    assert compact_badges([], 96, adv) == []


def test_light_theme_and_follow_the_system(qtbot, window, dataset, screenshot_dir, monkeypatch):
    app = QApplication.instance()
    dark_window = app.palette().color(QPalette.ColorRole.Window).lightness()
    window.prefs = window.prefs.model_copy(update={"theme": "light"})
    window.apply_preferences()
    assert app.property("likeness_theme") == "light"
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > dark_window + 100
    open_and_wait(qtbot, window, dataset)
    window.grab().save(str(screenshot_dir / "theme_light.png"))
    # "follow the system": the platform's scheme now, and again when it switches (the
    # offscreen platform has no scheme of its own, so the test plays the platform)
    from desktop.widgets import theme

    scheme = [Qt.ColorScheme.Dark]
    monkeypatch.setattr(theme, "system_scheme", lambda: scheme[0])
    window.prefs = window.prefs.model_copy(update={"theme": "system"})
    window.apply_preferences()
    assert app.property("likeness_theme") == "dark"
    scheme[0] = Qt.ColorScheme.Light
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert app.property("likeness_theme") == "light"
    window.grab().save(str(screenshot_dir / "theme_system_light.png"))
    window.prefs = window.prefs.model_copy(update={"theme": "dark"})
    window.apply_preferences()
    assert app.property("likeness_theme") == "dark"
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert app.property("likeness_theme") == "dark"  # a fixed theme ignores the platform


def test_preferences_dialog_sets_theme_and_toolbar(qtbot, window):
    from desktop.widgets.preferences_dialog import PreferencesDialog

    dlg = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dlg)
    assert dlg.theme.currentData() == "dark" and dlg.toolbar.currentData() == "beside"
    assert [dlg.theme.itemText(i) for i in range(3)] == ["Dark", "Light", "Follow the system"]
    dlg.theme.setCurrentIndex(dlg.theme.findData("system"))
    dlg.toolbar.setCurrentIndex(dlg.toolbar.findData("none"))
    prefs = dlg.result_preferences()
    assert (prefs.theme, prefs.toolbar_labels) == ("system", "none")
    window.prefs = prefs
    window.apply_preferences()
    assert window.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    window.prefs = prefs.model_copy(update={"theme": "dark", "toolbar_labels": "beside"})
    window.apply_preferences()
