"""Caption panels: lint underlines in the editor, the Lint dock, tile badges, dataset
settings (trigger + identity line), autocaption and the suggestion review.

``install(window)`` wires everything into a ``MainWindow`` through its public parts (session,
browser, menus) and returns the ``CaptionsFeature`` (kept on ``window.captions``).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QTextCursor
from PySide6.QtWidgets import QToolBar

from desktop.widgets.common import make_action

log = logging.getLogger(__name__)


class CaptionsFeature(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        from desktop.panels.captions.badges import LintBadges
        from desktop.panels.captions.controller import CaptionsController
        from desktop.panels.captions.lint_highlighter import LintHighlighter
        from desktop.panels.captions.lint_panel import LintDock

        self.window = window
        browser = window.browser
        self.controller = CaptionsController(window.session, browser, self)
        self.highlighter = LintHighlighter(
            browser.editor, self.controller.lint_caption, self.controller.apply_caption_text
        )
        self.badges = LintBadges(self.controller, browser.model)
        self.dock = LintDock(self.controller, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.resizeDocks([self.dock], [300], Qt.Orientation.Horizontal)
        self.suggestions: list = []
        self.autocaption_dialog = None
        self.review = None
        self.controller.jump_requested.connect(self._select_span)
        self.controller.settings_changed.connect(lambda _s: self.highlighter.relint())
        self.controller.report_changed.connect(self._on_report)
        window.session.opened.connect(self._load_suggestions)
        self._build_actions()

    # -- menus -------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.window
        A = make_action  # noqa: N806
        self.act_settings = A(
            w,
            "Dataset &settings…",
            None,
            "Ctrl+Shift+T",
            self.open_settings,
            tip="Trigger token, identity line and caption profile of this dataset",
        )
        self.act_autocaption = A(
            w,
            "&Autocaption…",
            None,
            "Ctrl+Shift+A",
            self.open_autocaption,
            tip="Caption images with Florence-2, cleaned of identity descriptors",
        )
        self.act_review = A(
            w,
            "&Review suggestions…",
            None,
            "Ctrl+Shift+R",
            self.open_review,
            tip="Review autocaption suggestions",
        )
        # the editor's own Ctrl+. shortcut fires it; the menu only names the key
        self.act_quick_fix = A(
            w,
            "&Quick fix\tCtrl+.",
            None,
            None,
            self.highlighter.show_quick_fix,
            tip="Fix the caption problem at the cursor (Ctrl+.)",
        )
        self.act_next = A(w, "&Next problem", None, "F8", lambda: self.next_problem(1))
        self.act_prev = A(w, "&Previous problem", None, "Shift+F8", lambda: self.next_problem(-1))
        self.act_lint = self.dock.toggleViewAction()
        self.act_lint.setText("&Lint panel")
        self.act_lint.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.menu = w.menuBar().addMenu("&Captions")
        self.menu.addActions([self.act_settings, self.act_autocaption, self.act_review])
        self.menu.addSeparator()
        self.menu.addActions([self.act_lint, self.act_next, self.act_prev, self.act_quick_fix])
        for act in (self.act_next, self.act_prev):
            w.addAction(act)
        tb = w.findChild(QToolBar, "mainToolbar")
        if tb is not None:
            tb.addSeparator()
            tb.addActions([self.act_settings, self.act_autocaption])
        w.session.history_changed.connect(self._update_actions)
        self._update_actions()

    def _update_actions(self) -> None:
        is_open = self.window.session.is_open
        for act in (self.act_settings, self.act_autocaption, self.act_next, self.act_prev):
            act.setEnabled(is_open)
        pending = sum(1 for s in self.suggestions if s.status == "pending" and not s.error)
        self.act_review.setEnabled(is_open and bool(self.suggestions))
        self.act_review.setText(
            f"&Review suggestions ({pending} pending)…" if pending else "&Review suggestions…"
        )

    # -- commands ------------------------------------------------------------------------------
    def open_settings(self):
        from desktop.panels.captions.dataset_settings import DatasetSettingsDialog

        if not self.window.session.is_open:
            return None
        dlg = DatasetSettingsDialog(self.controller, self.window)
        dlg.setModal(True)
        dlg.open()
        return dlg

    def open_autocaption(self):
        from desktop.panels.captions.autocaption_dialog import AutocaptionDialog

        if not self.window.session.is_open:
            return None
        self.window.browser.editor.save()
        if self.autocaption_dialog is not None and self.autocaption_dialog.running:
            self.autocaption_dialog.raise_()
            return self.autocaption_dialog
        dlg = AutocaptionDialog(
            self.controller, self.window.browser.grid.selected_rels(), self.window
        )
        dlg.review_requested.connect(self._on_suggestions)
        dlg.show()
        self.autocaption_dialog = dlg
        return dlg

    def _load_suggestions(self, *_args) -> None:
        """Suggestions a previous "suggest" run left in the workspace, ready to review."""
        from curation.captioners.review import pending_review

        ws = self.window.session.workspace
        try:
            self.suggestions = pending_review(ws) if ws is not None else []
        except Exception as exc:  # noqa: BLE001 - never block opening a folder
            log.warning("Cannot read stored suggestions: %s", exc)
            self.suggestions = []
        self._update_actions()
        if self.suggestions:
            self.window.session.notify.emit(
                "info",
                f"{len(self.suggestions)} autocaption suggestions are waiting for review "
                "(Captions → Review suggestions, Ctrl+Shift+R)",
            )

    def _on_suggestions(self, suggestions: list) -> None:
        self.suggestions = list(suggestions)
        self._update_actions()
        self.open_review()

    def open_review(self):
        from desktop.panels.captions.review_screen import ReviewScreen

        if not self.suggestions or not self.window.session.is_open:
            return None
        if self.review is not None:
            self.review.close()
        self.review = ReviewScreen(
            self.window.session,
            self.suggestions,
            self.window,
            before_write=self.window.browser.editor.save,
            lint_fn=self.controller.lint_caption,
        )
        self.review.accepted_count_changed.connect(lambda _n: self._update_actions())
        self.review.show()
        return self.review

    def next_problem(self, delta: int) -> bool:
        """Jump to the next (``delta`` 1) or previous image that has a caption problem."""
        browser = self.window.browser
        proxy = browser.proxy
        n = proxy.rowCount()
        if n == 0:
            return False
        cur = browser.grid.currentIndex().row()
        flagged = {rel for rel, marks in self.controller.report.by_rel.items() if marks}
        from desktop.models.thumbnail_model import RelRole

        for k in range(1, n + 1):
            row = (cur + delta * k) % n
            rel = proxy.index(row, 0).data(RelRole)
            if rel in flagged:
                marks = sorted(self.controller.report.by_rel[rel], key=lambda m: m.rank)
                return self.controller.jump_to(rel, marks[0].start, marks[0].end)
        return False

    # -- reactions ---------------------------------------------------------------------------
    def _select_span(self, rel: str, start: int, end: int) -> None:
        editor = self.window.browser.editor
        if editor.rel != rel:
            return
        edit = editor.edit
        n = len(edit.toPlainText())
        cur = edit.textCursor()
        cur.setPosition(min(start, n))
        cur.setPosition(min(end, n), QTextCursor.MoveMode.KeepAnchor)
        edit.setTextCursor(cur)
        edit.setFocus()

    def _on_report(self, _report) -> None:
        self.highlighter.relint()


def install(window) -> CaptionsFeature:
    """Add the caption panels to ``window`` (a ``MainWindow``); idempotent."""
    feature = getattr(window, "captions", None)
    if isinstance(feature, CaptionsFeature):
        return feature
    feature = CaptionsFeature(window)
    window.captions = feature
    return feature
