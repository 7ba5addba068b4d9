# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""Opening a folder paints from its scan first: the grid shows (and its thumbnails load)
while the state db is created and the captions are read; then the captions arrive without
restarting the grid. Editing waits for them; closing or failing in between is clean."""

from __future__ import annotations

import threading

import pytest
from test_gui_fixtures import CAPTIONS, dataset, make_dataset, open_and_wait, window

from curation import workspace as workspace_mod
from curation.errors import DatasetError
from desktop.models.thumbnail_model import CaptionRole, HasCaptionRole, RelRole

pytestmark = pytest.mark.gui


@pytest.fixture
def held_state(monkeypatch):
    """Workspace.open waits (in its worker thread) until the test releases it."""
    release = threading.Event()
    entered = threading.Event()
    real = workspace_mod.Workspace.open.__func__

    def slow_open(cls, *args, **kwargs):
        entered.set()
        assert release.wait(20), "the test never released the state"
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(workspace_mod.Workspace, "open", classmethod(slow_open))
    yield release, entered
    release.set()


def test_grid_paints_and_thumbnails_load_before_the_state_is_open(
    qtbot, window, dataset, held_state
):
    release, entered = held_state
    model, grid, editor = window.browser.model, window.browser.grid, window.browser.editor
    painted: list[bool] = []
    grid.first_paint.connect(lambda: painted.append(window.session.is_open))
    with qtbot.waitSignal(window.session.scanned, timeout=15000):
        window.open_folder(str(dataset))
    assert model.rowCount() == 9 and window.stack.currentWidget() is window.browser
    # nothing decodes before the grid has painted: the background fill waits for the first
    # paint (which may already have happened while waitSignal ran the event loop)
    assert painted or window.loader.pending() == 0
    # the scan knows which images have a caption file, not the text yet
    assert [model.index(i).data(HasCaptionRole) for i in range(3)] == [False] * 3
    assert model.row_data("img_00.jpg").has_caption and model.row_data("img_00.jpg").caption == ""
    qtbot.waitUntil(lambda: bool(painted), timeout=5000)
    assert painted == [False]  # painted while the state was still opening
    cache = window.loader.cache  # then the whole folder goes into the disk cache
    qtbot.waitUntil(
        lambda: all(cache.is_cached(r.path, 256) for r in model.rows if r.rel != "zz_broken.jpg"),
        timeout=20000,
    )
    qtbot.waitUntil(lambda: model.has_pixmap("img_01.jpg"), timeout=10000)
    assert entered.is_set() and window.session.loading and not window.session.is_open
    # nothing can be edited before the caption is read
    assert editor.rel == "img_00.jpg" and not editor.edit.isEnabled()
    assert "reading captions" in editor.title.text()
    generation = window.loader.generation
    release.set()
    with qtbot.waitSignal(window.session.opened, timeout=15000):
        pass
    # the captions arrive in place: same grid, same loader queue, thumbnails kept
    assert window.loader.generation == generation and model.has_pixmap("img_01.jpg")
    assert model.index(model.row_of("img_00.jpg")).data(CaptionRole) == CAPTIONS[0]
    assert window.session.is_open and not window.session.loading
    assert editor.rel == "img_00.jpg" and editor.edit.isEnabled() and editor.text() == CAPTIONS[0]
    counts = model.counts()
    assert (counts.images, counts.captioned, counts.uncaptioned) == (9, 6, 3)


def test_edit_in_the_previous_folder_is_saved_before_it_closes(qtbot, window, tmp_path):
    first = make_dataset(tmp_path / "first", n=3, captions=3, corrupt=False)
    second = make_dataset(tmp_path / "second", n=2, captions=1, corrupt=False)
    open_and_wait(qtbot, window, first, thumbs=False)
    editor = window.browser.editor
    assert editor.rel == "img_00.jpg"
    editor.edit.setPlainText("typed just before opening another folder")
    assert editor.is_dirty()
    window.open_folder(str(second))
    editor.edit.setPlainText("typed while the folder is listed")  # still the first folder
    with qtbot.waitSignal(window.session.opened, timeout=15000):
        pass
    assert (first / "img_00.txt").read_text("utf-8") == "typed while the folder is listed"
    assert (second / "img_00.txt").read_text("utf-8") == CAPTIONS[0]
    assert window.browser.model.rowCount() == 2 and editor.text() == CAPTIONS[0]


def test_closing_while_the_state_opens_drops_it(qtbot, window, dataset, held_state):
    release, entered = held_state
    with qtbot.waitSignal(window.session.scanned, timeout=15000):
        window.open_folder(str(dataset))
    qtbot.waitUntil(entered.is_set, timeout=5000)
    window.close_folder()
    assert window.stack.currentWidget() is window.empty
    opened: list[str] = []
    window.session.opened.connect(lambda root, _rows: opened.append(root))
    release.set()
    qtbot.wait(500)
    assert opened == [] and not window.session.is_open and not window.session.loading
    assert window.stack.currentWidget() is window.empty
    open_and_wait(qtbot, window, dataset, thumbs=False)  # and it opens again normally
    assert window.session.is_open and window.browser.model.rowCount() == 9


def test_state_that_cannot_open_after_the_scan_shows_why(qtbot, window, dataset, monkeypatch):
    def broken(cls, *args, **kwargs):
        raise DatasetError("the state database is locked by another program")

    monkeypatch.setattr(workspace_mod.Workspace, "open", classmethod(broken))
    with qtbot.waitSignal(window.session.open_failed, timeout=15000):
        window.open_folder(str(dataset))
    assert window.banner.level() == "error" and "locked" in window.banner.text.text()
    assert window.stack.currentWidget() is window.empty  # no grid that cannot be edited
    assert window.browser.model.rowCount() == 0 and not window.session.is_open


def test_a_caption_filter_chosen_while_opening_applies_to_the_captions(
    qtbot, dataset, held_state, monkeypatch
):
    """The shell alone (the analysis panels re-filter on open themselves and would hide a
    grid that is not re-filtered when the captions arrive)."""
    import desktop.panels.captions
    import desktop.panels.faces
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.models.filter_proxy import FilterMode

    monkeypatch.setattr(desktop.panels.faces, "install", lambda _w: None)
    monkeypatch.setattr(desktop.panels.captions, "install", lambda _w: None)
    create_app()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    release, _entered = held_state
    browser = window.browser
    with qtbot.waitSignal(window.session.scanned, timeout=15000):
        window.open_folder(str(dataset))
    browser.filter_combo.setCurrentIndex(browser.filter_combo.findData(FilterMode.UNCAPTIONED))
    assert browser.proxy.rowCount() == 9  # no caption text is known yet
    release.set()
    with qtbot.waitSignal(window.session.opened, timeout=15000):
        pass
    shown = {browser.proxy.index(r, 0).data(RelRole) for r in range(browser.proxy.rowCount())}
    assert shown == {"img_06.jpg", "img_07.jpg", "zz_broken.jpg"}
