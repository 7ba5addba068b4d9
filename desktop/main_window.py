"""``MainWindow``: assembles the panels, menus and toolbar; owns nothing but wiring."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
    QTextCursor,
)
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QStackedWidget, QVBoxLayout, QWidget

from desktop.logging_setup import ring_buffer
from desktop.models.session import DatasetSession
from desktop.settings import Preferences, geometry_ini_path, load_preferences, save_preferences
from desktop.thumbs.loader import ThumbnailLoader
from desktop.widgets.browser import DatasetBrowser
from desktop.widgets.bulk_edit_dialog import BulkEditDialog
from desktop.widgets.common import icon, make_action
from desktop.widgets.empty_state import EmptyState
from desktop.widgets.notifications import LogBridge, LogViewer, NotificationBanner
from desktop.widgets.preferences_dialog import PreferencesDialog
from desktop.widgets.status_bar import DatasetStatusBar
from desktop.widgets.theme import ThemeFollower
from desktop.window_fit import ScreenFit, ToolbarFit

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, prefs: Preferences | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Likeness")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self._shown_once = False
        self.screen_fit = ScreenFit(self)
        self.screen_fit.place_default()
        self.prefs = prefs or load_preferences()
        self.loader = ThumbnailLoader(parent=self)
        self.session = DatasetSession(self)
        self._scanned_root: str | None = None  # shown from its scan, state still opening
        self.browser = DatasetBrowser(self.session, self.loader)
        self.empty = EmptyState()
        self.banner = NotificationBanner()
        self.status = DatasetStatusBar()
        self.setStatusBar(self.status)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.browser)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.log_bridge = LogBridge(ring_buffer(), parent=self)
        self.log_viewer: LogViewer | None = None
        self.theme = ThemeFollower(self)
        self._build_actions()
        self._connect()
        self.apply_preferences()
        from desktop.panels.faces import install as install_faces  # noqa: PLC0415

        install_faces(self)
        from desktop.panels.captions import install as install_captions  # noqa: PLC0415

        install_captions(self)
        from desktop.panels.train import install as install_train  # noqa: PLC0415

        install_train(self)
        from desktop.help import HelpMenu  # noqa: PLC0415

        self.help = HelpMenu(self)  # last, so it is the last menu
        self.restore_geometry()
        self._update_history_actions()

    # -- construction ------------------------------------------------------------------
    def _build_actions(self) -> None:
        b = self.browser
        viewer = b.detail.viewer
        A = make_action  # noqa: N806
        self.act_open = A(
            self, "&Open folder…", "folder-open", QKeySequence.StandardKey.Open, self.choose_folder
        )
        self.act_close = A(self, "&Close folder", None, "Ctrl+W", self.close_folder)
        self.act_quit = A(self, "&Quit", None, QKeySequence.StandardKey.Quit, self.close)
        self.act_undo = A(self, "&Undo", "undo", ["Ctrl+Z"], b.undo)
        self.act_redo = A(self, "&Redo", "redo", ["Ctrl+Shift+Z", "Ctrl+Y"], b.redo)
        self.act_bulk = A(
            self,
            "&Bulk edit…",
            "bulk-edit",
            "Ctrl+H",
            self.open_bulk_edit,
            tip="Bulk edit captions: find/replace, prepend, append, rename trigger",
        )
        self.act_prev = A(
            self, "&Previous image", "previous", ["PgUp", "Alt+Left"], lambda: b.navigate(-1)
        )
        self.act_next = A(
            self, "&Next image", "next", ["PgDown", "Alt+Right"], lambda: b.navigate(1)
        )
        self.act_save_next = A(
            self, "&Save and next", "save", ["Ctrl+Return", "Ctrl+Enter"], b.save_and_next
        )
        self.act_zoom_in = A(self, "Zoom &in", "zoom-in", "Ctrl++", viewer.zoom_in)
        self.act_zoom_out = A(self, "Zoom &out", "zoom-out", "Ctrl+-", viewer.zoom_out)
        self.act_fit = A(self, "&Fit image", "zoom-fit", "Ctrl+0", viewer.fit)
        self.act_actual = A(
            self, "&Actual size (100%)", "zoom-actual", "Ctrl+1", viewer.actual_size
        )
        self.act_find = A(self, "&Find…", None, QKeySequence.StandardKey.Find, self._focus_search)
        self.act_exclude = A(
            self, "E&xclude from training", "exclude", "Ctrl+E", self.toggle_excluded
        )
        # Ctrl+, everywhere: the platform's own key (none on most Linux desktops) comes second
        prefs_keys = [QKeySequence("Ctrl+,")] + [
            k
            for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
            if k != QKeySequence("Ctrl+,")
        ]
        self.act_prefs = A(self, "&Preferences…", "settings", prefs_keys, self.open_preferences)
        self.act_edit_caption = A(
            self,
            "Edit &caption",
            None,
            ["F2"],
            self.focus_caption,
            tip="Put the cursor in the caption of the current image (Enter on a tile too)",
        )
        self.act_log = A(self, "Show &log", "log", "Ctrl+L", self.show_log)
        self.act_lora = A(
            self, "&LoRA tools…", None, None, lambda: self.open_lora_tools(),
            tip="Inspect, re-weight, merge, resize or convert a LoRA; send it to ComfyUI",
        )  # fmt: skip
        self.act_grid = A(self, "Open checkpoint &grid…", None, None, self.choose_grid)
        self.recent_menu = QMenu("Open &recent", self)
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.act_open])
        m.addMenu(self.recent_menu)
        m.addAction(self.act_grid)
        m.addActions([self.act_close])
        m.addSeparator()
        m.addActions([self.act_prefs, self.act_quit])
        m = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addActions([self.act_edit_caption, self.act_bulk, self.act_find, self.act_exclude])
        m = mb.addMenu("&View")
        m.addActions([self.act_prev, self.act_next, self.act_save_next])
        m.addSeparator()
        m.addActions([self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_actual])
        m.addSeparator()
        m.addAction(self.act_log)
        mb.addMenu("&Tools").addAction(self.act_lora)
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions([self.act_open])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo, self.act_bulk])
        tb.addSeparator()
        tb.addActions([self.act_prev, self.act_next, self.act_save_next])
        tb.addSeparator()
        tb.addActions([self.act_exclude, self.act_prefs, self.act_log])
        self.toolbar = tb
        self.toolbar_fit = ToolbarFit(self, tb)
        for action, short in (  # the toolbar's label; the menu keeps the longer name
            (self.act_open, "Open"),
            (self.act_prev, "Previous"),
            (self.act_next, "Next"),
            (self.act_save_next, "Save + next"),
            (self.act_exclude, "Exclude"),
            (self.act_prefs, "Preferences"),
            (self.act_log, "Log"),
            (self.act_bulk, "Bulk edit"),
        ):
            action.setIconText(short)
        self.addActions([self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_actual])

    def _connect(self) -> None:
        s = self.session
        s.scanned.connect(self._on_scanned)
        s.opened.connect(self._on_opened)
        s.open_failed.connect(self._on_open_failed)
        s.notify.connect(self.banner.show_message)
        s.history_changed.connect(self._update_history_actions)
        s.meta_changed.connect(self._on_meta_changed)
        s.step_images.connect(self._show_step_images)
        self.empty.open_requested.connect(self.choose_folder)
        self.empty.recent_requested.connect(self.open_folder)
        self.banner.show_log.connect(self.show_log)
        self.log_bridge.record.connect(self._on_log_record)
        self._counts_timer = QTimer(self)  # counting 10,000 rows per change adds up: debounce
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)
        self.browser.model.counts_changed.connect(self._counts_timer.start)
        self.browser.selection_changed.connect(self._update_selection)
        proxy = self.browser.proxy  # "showing N of M" follows every filter change at once
        for sig in (proxy.layoutChanged, proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset):
            sig.connect(self._update_selection)
        self.browser.size_changed.connect(self._remember_size)
        self.browser.grid.activated.connect(lambda _i: self.focus_caption())  # Enter on a tile
        # Tab from the grid goes straight to the caption (not through the zoom buttons)
        QWidget.setTabOrder(self.browser.grid, self.browser.editor.edit)
        self.loader.background_progress.connect(lambda _g, d, t: self.status.set_progress(d, t))

    # -- folders -----------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.prefs.recent_folders[0] if self.prefs.recent_folders else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str, wait: bool = False) -> None:
        """Open ``folder`` (off the GUI thread unless ``wait``); errors show in the banner."""
        self.browser.editor.save()
        self.status.showMessage(f"Opening {folder}…")
        if wait:
            self.session.open_sync(folder, recursive=self.prefs.recursive_scan)
        else:
            self.session.open(folder, recursive=self.prefs.recursive_scan)

    def close_folder(self) -> None:
        self._scanned_root = None
        self.browser.editor.save()
        self.session.close()
        self.browser.set_rows([])
        self.stack.setCurrentWidget(self.empty)
        self.setWindowTitle("Likeness")
        self._update_counts()

    def _on_scanned(self, root: str, rows: list) -> None:
        """The folder is listed: paint its grid now, captions follow (``_on_opened``)."""
        self.status.showMessage(f"Reading captions and state of {root}…")
        self.browser.set_rows(rows, captions_loaded=False)
        self._scanned_root = root
        self.stack.setCurrentWidget(self.browser)
        self.setWindowTitle(f"{Path(root).name} — Likeness")
        self.browser.grid.setFocus()
        self._update_counts()

    def _on_opened(self, root: str, rows: list) -> None:
        self.status.clearMessage()
        if self._scanned_root == root:
            self.browser.update_rows(rows)
        else:
            self.browser.set_rows(rows)
        self._scanned_root = None
        self.stack.setCurrentWidget(self.browser)
        self.setWindowTitle(f"{Path(root).name} — Likeness")
        self.prefs.add_recent(root)
        self._save_prefs()
        self._update_recent()
        self._update_counts()
        self.browser.grid.setFocus()
        if not rows:
            self.banner.show_message(
                "warning",
                f"No images found in {root} (looked for jpg, png, webp, bmp, tif"
                f"{' in subfolders too' if self.prefs.recursive_scan else ''})",
            )
        if self.session.scan_errors:
            first = self.session.scan_errors[0]
            self.banner.show_message(
                "warning",
                f"{len(self.session.scan_errors)} items could not "
                f"be read, e.g. {first.path}: {first.error}",
            )

    def _on_open_failed(self, path: str, message: str) -> None:
        self.status.clearMessage()
        if self._scanned_root is not None:  # its grid is shown, but it cannot be edited
            self._scanned_root = None
            self.close_folder()
        self.banner.show_message("error", f"Cannot open {path}: {message}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if _dropped_folder(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        folder = _dropped_folder(event.mimeData())
        if folder:
            event.acceptProposedAction()
            self.open_folder(folder)

    # -- commands ------------------------------------------------------------------------
    def open_bulk_edit(self) -> BulkEditDialog | None:
        if not self.session.is_open:
            self.banner.show_message("info", "Open a folder first")
            return None
        self.browser.editor.save()
        dlg = BulkEditDialog(self.session, self.browser.grid.selected_rels(), self)
        dlg.setModal(False)
        dlg.show()
        dlg.activateWindow()
        dlg.find.setFocus()  # Ctrl+H: type what to find straight away
        return dlg

    def open_lora_tools(self, path: str | None = None):
        """The LoRA dialog for ``path`` (asked for when None); returns it, or None."""
        from desktop.widgets.lora_dialog import FILTER, LoraDialog

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a LoRA", "", FILTER)
            if not path:
                return None
        dlg = LoraDialog(path, self, prefs=self.prefs)
        dlg.setModal(False)
        dlg.show()
        return dlg

    def toggle_excluded(self) -> None:
        rels = self.browser.grid.selected_rels()
        if not rels or not self.session.is_open:
            return
        row = self.browser.model.row_data(rels[0])
        new = not (row.excluded if row else False)
        self.session.set_excluded(rels, new)
        for rel in rels:
            self.browser.model.set_excluded(rel, new)

    def choose_grid(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a checkpoint grid folder")
        if folder:
            self.open_grid(Path(folder))

    def open_grid(self, folder: Path):
        """The checkpoint grid viewer on ``folder`` (a window of its own); a run folder opens
        its ``grid`` folder."""
        from desktop.grid_viewer.window import GridViewerWindow

        if (folder / "config.yaml").is_file() and (folder / "grid").is_dir():
            folder = folder / "grid"
        try:
            win = GridViewerWindow(folder, self, open_lora=self.open_lora_tools)
        except (OSError, ValueError) as exc:
            self.banner.show_message("error", f"cannot open the grid: {exc}")
            return None
        win.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        win.show()
        return win

    def open_preferences(self) -> None:
        dlg = PreferencesDialog(self.prefs, self)
        if dlg.exec():
            self.prefs = dlg.result_preferences()
            self._save_prefs()
            self.apply_preferences()

    def apply_preferences(self) -> None:
        p = self.prefs
        self.browser.editor.set_autosave_delay(p.autosave_delay_ms)
        self.browser.grid.set_show_caption(p.show_caption_snippet)
        self.browser.set_thumbnail_size(p.thumbnail_size)
        pixels = int(p.max_image_megapixels * 1_000_000)
        self.loader.max_pixels = pixels
        self.browser.detail.viewer.max_pixels = pixels
        self.toolbar_fit.reset()
        self.fit_toolbar()
        self.theme.apply(p.theme)
        self._update_recent()

    def fit_toolbar(self) -> None:
        self.toolbar_fit.fit(self.prefs.toolbar_labels)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if hasattr(self, "toolbar_fit"):
            self.fit_toolbar()

    def show_log(self) -> None:
        if self.log_viewer is None:
            self.log_viewer = LogViewer(ring_buffer(), self)
        self.log_viewer.refresh()
        self.log_viewer.show()
        self.log_viewer.raise_()

    def focus_caption(self) -> None:
        """The cursor goes to the end of the current image's caption, ready to type."""
        if not self.session.is_open or not self.browser.editor.rel:
            return
        edit = self.browser.editor.edit
        edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        edit.moveCursor(QTextCursor.MoveOperation.End)

    def _focus_search(self) -> None:
        self.browser.search.setFocus()
        self.browser.search.selectAll()

    # -- state display -----------------------------------------------------------------
    def _on_log_record(self, level: int, message: str) -> None:
        self.banner.show_message("error" if level >= logging.ERROR else "warning", message)

    def _update_counts(self) -> None:
        if not self.session.is_open:
            self.status.set_counts(None)
            return
        self.status.set_counts(self.browser.model.counts(), len(self.session.scan_errors))

    def _update_selection(self, *_args) -> None:
        n = len(self.browser.grid.selectionModel().selectedIndexes())
        self.status.set_selection(n, self.browser.proxy.rowCount(), self.browser.model.rowCount())

    def _on_meta_changed(self, rels: list[str]) -> None:
        """An undo/redo changed exclusions: the grid shows the workspace's state."""
        ws = self.session.workspace
        if ws is None:
            return
        for rel in rels:
            self.browser.model.set_excluded(rel, ws.is_excluded(rel))

    def _show_step_images(self, rels: list[str]) -> None:
        """The grid selects the image an undo/redo step touches (the first, if several)."""
        if rels and self.browser.grid.current_rel() not in rels:
            self.browser.grid.select_rel(rels[0])

    def _update_history_actions(self) -> None:
        u, r = self.session.undo_label(), self.session.redo_label()
        self.act_undo.setEnabled(bool(u))
        self.act_redo.setEnabled(bool(r))
        self.act_undo.setToolTip(f"Undo {u} (Ctrl+Z)" if u else "Nothing to undo (Ctrl+Z)")
        self.act_redo.setToolTip(
            f"Redo {r} (Ctrl+Shift+Z)" if r else "Nothing to redo (Ctrl+Shift+Z)"
        )
        self.act_undo.setText(f"&Undo {_short(u)}" if u else "&Undo")
        self.act_redo.setText(f"&Redo {_short(r)}" if r else "&Redo")
        self.act_undo.setIconText("Undo")  # the toolbar stays short; menu and tooltip name it
        self.act_redo.setIconText("Redo")
        for a in (
            self.act_bulk,
            self.act_edit_caption,
            self.act_close,
            self.act_exclude,
            self.act_prev,
            self.act_next,
            self.act_save_next,
        ):
            a.setEnabled(self.session.is_open)

    def _update_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.prefs.recent_folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.open_folder(f))
        self.recent_menu.setEnabled(bool(self.prefs.recent_folders))
        self.empty.set_recent(self.prefs.recent_folders)

    def _remember_size(self, size: int) -> None:
        if size != self.prefs.thumbnail_size:
            self.prefs.thumbnail_size = size

    def _save_prefs(self) -> None:
        try:
            save_preferences(self.prefs)
        except OSError as exc:
            log.error("Cannot save preferences: %s", exc)

    # -- geometry ----------------------------------------------------------------------
    def _qsettings(self) -> QSettings:
        return QSettings(str(geometry_ini_path()), QSettings.Format.IniFormat)

    def restore_geometry(self) -> None:
        s = self._qsettings()
        for key, fn in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("browser_splitter", self.browser.splitter.restoreState),
            ("detail_splitter", self.browser.detail.splitter.restoreState),
        ):
            value = s.value(key)
            if value is not None:
                fn(value)
                if key == "browser_splitter":
                    self.browser.splitter_restored = True
        self.screen_fit.fit()  # saved on a bigger screen, or with a dock now off-screen

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.toolbar_fit.reset()  # the panels have added their toolbar actions by now
            self.fit_toolbar()
            self.screen_fit.attach()
            self.screen_fit.fit()

    def save_geometry(self) -> None:
        s = self._qsettings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        s.setValue("browser_splitter", self.browser.splitter.saveState())
        s.setValue("detail_splitter", self.browser.detail.splitter.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.browser.editor.save()
        self.save_geometry()
        self._save_prefs()
        self.log_bridge.detach()
        self.loader.shutdown()
        self.session.close(emit=False)
        super().closeEvent(event)


def _dropped_folder(mime) -> str | None:
    """The folder of a drop: a dropped folder, or the folder of a dropped file."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return str(path)
            if path.is_file():
                return str(path.parent)
    return None


def _short(label: str | None, limit: int = 60) -> str:
    """A step label short enough for a menu entry (the tooltip has all of it)."""
    text = (label or "").replace("&", "&&")
    return text if len(text) <= limit else text[: limit - 1] + "…"
