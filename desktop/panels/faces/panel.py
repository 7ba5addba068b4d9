"""``FacesPanel``: the face features of the main window, wired together.

It owns the analysis controller and connects it to the grid (badges, filters, overrides),
the detail view (face boxes), the status bar (progress + cancel), the Balance dock and the
Faces menu. Nothing here decodes images or runs a detector on the GUI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QToolButton,
    QWidget,
)

from desktop.models.thumbnail_model import ExcludedRole, RelRole
from desktop.panels.faces import badges
from desktop.panels.faces.balance_dashboard import BACKEND_LABELS, BalanceDashboard
from desktop.panels.faces.controller import FaceAnalysisController
from desktop.panels.faces.dialogs import DialogsMixin
from desktop.panels.faces.face_overlay import FaceOverlay
from desktop.panels.faces.filters import FaceFilter, FilterChip
from desktop.panels.faces.models_menu import FaceModels
from desktop.panels.faces.overrides import FaceOverrides
from desktop.panels.faces.prefs import load_faces_prefs, save_faces_prefs
from desktop.widgets.common import make_action

log = logging.getLogger(__name__)


#: the longest the face analysis waits for the first visible thumbnails of an opened folder
THUMBS_FIRST_MS = 1500


def _profiles() -> list[str]:
    from curation.balance.profiles import builtin_profiles

    return list(builtin_profiles())


class FacesPanel(DialogsMixin, QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.browser = window.browser
        self.model = window.browser.model
        self.proxy = window.browser.proxy
        self.grid = window.browser.grid
        self.prefs = load_faces_prefs()
        self.controller = FaceAnalysisController(self.session, self)
        self.controller.backend = self.prefs.backend
        self.controller.profile = self.prefs.profile
        # The analysis never downloads: models come only from a click (FaceModels), so a
        # missing network cannot stall a launch and a failed download is not retried.
        self.controller.accept_licence = False
        self.controller.model_dir = self.prefs.model_dir
        self.dialogs: dict[str, Any] = {}
        self._pending_badges: dict[str, Any] = {}
        self._badge_timer = QTimer(self)
        self._badge_timer.setSingleShot(True)
        self._badge_timer.setInterval(80)
        self._badge_timer.timeout.connect(self._flush_badges)
        self._closed = False
        self._backend_notice: str | None = None
        self._raise_on_finish = False
        # on open, the analysis waits for the first visible thumbnails (or this long at most)
        self._waiting_for_thumbs = False
        self._thumbs_timer = QTimer(self)
        self._thumbs_timer.setSingleShot(True)
        self._thumbs_timer.setInterval(THUMBS_FIRST_MS)
        self._thumbs_timer.timeout.connect(self._start_after_thumbs)
        loader = getattr(window, "loader", None)
        if loader is not None and hasattr(loader, "visible_drained"):
            loader.visible_drained.connect(lambda _gen: self._start_after_thumbs())

        self.dashboard = BalanceDashboard(_profiles())
        if self.prefs.profile not in _profiles():
            self.dashboard.add_profile(self.prefs.profile, Path(self.prefs.profile).stem)
        self.dashboard.add_profile("__custom__", "Custom profile file…")
        self.dashboard.select(self.dashboard.profile_combo, self.prefs.profile)
        self.dashboard.select(self.dashboard.backend_combo, self.prefs.backend)
        self.dock = QDockWidget("Balance", window)
        self.dock.setObjectName("balanceDock")
        self.dock.setWidget(self.dashboard)
        self.dock.setMinimumWidth(380)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self._tabify()
        self.dock.hide()

        self._build_status()
        self.face_filter = FaceFilter(self.proxy, lambda: self.controller.images)
        self.chip = FilterChip(self.proxy)
        self.dashboard.form.addWidget(QLabel("Show"), self.dashboard.filter_row, 0)
        self.dashboard.form.addWidget(self.face_filter, self.dashboard.filter_row, 1)
        bar = self.browser.findChild(QWidget, "filterBar")
        if bar is not None and bar.layout() is not None:
            bar.layout().insertWidget(2, self.chip)
        self.overrides = FaceOverrides(self.session, self.grid.selected_rels, self)
        self.overlay = FaceOverlay(
            self.browser.detail.viewer, lambda rel: self.controller.images.get(rel)
        )
        self.overlay.enabled = self.prefs.show_face_boxes
        self.models = FaceModels(window, self.prefs)
        self.dashboard.models_btn.setMenu(self.models.menu)
        self._build_actions()
        self.overrides.install(self.grid, getattr(window, "act_exclude", None))
        self._connect()

    # -- construction ------------------------------------------------------------------
    def _tabify(self) -> None:
        """Share the right dock area with other panels' docks as tabs (not stacked)."""
        if self.window.tabifiedDockWidgets(self.dock):
            return
        for other in self.window.findChildren(QDockWidget):
            if other is not self.dock and (
                self.window.dockWidgetArea(other) == Qt.DockWidgetArea.RightDockWidgetArea
            ):
                self.window.tabifyDockWidget(other, self.dock)
                return

    def show_dashboard(self) -> None:
        self._tabify()
        self.dock.show()
        self.dock.raise_()

    def _build_status(self) -> None:
        self.status_widget = QWidget()
        lay = QHBoxLayout(self.status_widget)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.status_progress = QProgressBar()
        self.status_progress.setMaximumWidth(180)
        self.status_progress.setFormat("faces %v/%m")
        self.status_cancel = QToolButton()
        self.status_cancel.setText("✕")
        self.status_cancel.setToolTip("Cancel the face analysis")
        self.status_cancel.setAutoRaise(True)
        self.status_cancel.clicked.connect(self.controller.cancel)
        lay.addWidget(self.status_progress)
        lay.addWidget(self.status_cancel)
        self.window.status.addPermanentWidget(self.status_widget)
        self.status_widget.hide()

    def _build_actions(self) -> None:
        w = self.window
        A = make_action  # noqa: N806
        self.act_analyse = A(w, "&Analyse faces", None, "Ctrl+Shift+F", self.start,
                             tip="Analyse the faces of the open folder (cached results are instant)")  # fmt: skip
        self.act_cancel = A(w, "&Cancel face analysis", None, None, self.controller.cancel)
        self.act_dashboard = self.dock.toggleViewAction()
        self.act_dashboard.setText("&Balance dashboard")
        self.act_dashboard.setShortcut("Ctrl+Shift+B")
        self.act_duplicates = A(w, "Review &duplicates…", None, None, self.open_duplicates)
        self.act_identity = A(w, "Review &identity…", None, None, self.open_identity)
        self.act_export = A(w, "&Export cleaned copy…", None, "Ctrl+Shift+E", self.open_export)
        self.act_report = A(w, "Save balance &report…", None, None, self.save_report)
        self.act_boxes = A(w, "Show face &boxes", None, None, None)
        self.act_boxes.setCheckable(True)
        self.act_boxes.setChecked(self.prefs.show_face_boxes)
        self.act_boxes.toggled.connect(self._toggle_boxes)
        self.act_auto = A(w, "Analyse when a folder &opens", None, None, None)
        self.act_auto.setCheckable(True)
        self.act_auto.setChecked(self.prefs.analyze_on_open)
        self.act_auto.toggled.connect(self._toggle_auto)
        menu = w.menuBar().addMenu("F&aces")
        menu.setObjectName("facesMenu")
        menu.addActions([self.act_analyse, self.act_cancel, self.act_dashboard])
        menu.addSeparator()
        menu.addActions([self.act_duplicates, self.act_identity, self.act_export, self.act_report])
        menu.addSeparator()
        menu.addActions([self.act_boxes, self.act_auto])
        menu.addMenu(self.models.menu)
        backend_menu = menu.addMenu("Face &detector")
        self.backend_group = QActionGroup(backend_menu)
        for key, label in BACKEND_LABELS:
            act = QAction(label, backend_menu)
            act.setCheckable(True)
            act.setData(key)
            act.setChecked(key == self.prefs.backend)
            self.backend_group.addAction(act)
            backend_menu.addAction(act)
            act.triggered.connect(lambda _c=False, k=key: self.set_backend(k))
        self.menu = menu
        self._update_actions()

    def _connect(self) -> None:
        c, d = self.controller, self.dashboard
        self.session.opened.connect(self._on_opened)
        self.session.closed.connect(self._on_closed)
        c.started.connect(self._on_started)
        c.progress.connect(self._on_progress)
        c.image_analysed.connect(self._on_image)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(self._on_running)
        self.model.dataChanged.connect(self._on_model_changed)
        self.overrides.changed.connect(lambda _rels: c.reclassify())
        self.session.meta_changed.connect(  # undo / redo of exclusions and overrides
            lambda _rels: c.reclassify() if c.analysis is not None else None
        )
        self.grid.current_changed.connect(self.overlay.set_rel)
        d.advice_activated.connect(self.show_advice)
        d.profile_changed.connect(self.set_profile)
        d.backend_changed.connect(self.set_backend)
        d.reanalyse_requested.connect(self.start)
        d.cancel_requested.connect(c.cancel)
        d.review_duplicates_requested.connect(self.open_duplicates)
        d.review_identity_requested.connect(self.open_identity)
        d.export_requested.connect(self.open_export)
        d.save_report_requested.connect(self.save_report)
        d.use_insightface_requested.connect(lambda: self.set_backend("insightface"))
        c.backend_notice.connect(self._on_backend_notice)
        m = self.models
        m.insightface_requested.connect(lambda: self.set_backend("insightface"))
        m.ready.connect(self._on_model_ready)
        m.failed.connect(self._on_model_failed)
        m.folder_changed.connect(self._on_model_folder)

    # -- analysis ----------------------------------------------------------------------
    def start(self) -> bool:
        self._waiting_for_thumbs = False
        self._thumbs_timer.stop()
        if not self.session.is_open or self._closed:
            return False
        return self.controller.start()

    def _reset_grid_filters(self) -> None:
        """A new (or no) folder: filters that name images of the old one make no sense."""
        if self.face_filter.key is not None:
            self.face_filter.set_key(None)
        self.proxy.set_extra_predicate("faces", None)
        if self.proxy.rel_filter is not None:
            self.proxy.set_rel_filter(None)

    def _on_opened(self, *_args) -> None:
        self.controller.clear()
        self._reset_grid_filters()
        self.dashboard.set_report(None)
        self._raise_on_finish = True
        self.show_dashboard()
        if self.prefs.analyze_on_open:
            if self.model.rowCount() == 0 or getattr(self.window, "loader", None) is None:
                self.start()
            else:  # the visible thumbnails first: both compete for the same cores
                self._waiting_for_thumbs = True
                self._thumbs_timer.start()

    def _start_after_thumbs(self) -> None:
        if self._waiting_for_thumbs:
            self.start()

    def _on_closed(self) -> None:
        self._waiting_for_thumbs = False
        self._thumbs_timer.stop()
        self.controller.clear()
        self.dashboard.set_report(None)
        self._reset_grid_filters()
        self._update_actions()

    def _on_started(self) -> None:
        self.dashboard.set_status_text("Analysing faces…")

    def _on_running(self, running: bool) -> None:
        self.dashboard.set_running(running)
        self.status_widget.setVisible(running)
        self.act_cancel.setEnabled(running)

    def _on_progress(self, done: int, total: int, _message: str) -> None:
        self.status_progress.setRange(0, max(1, total))
        self.status_progress.setValue(done)
        self.dashboard.set_progress(done, total)

    def _on_image(self, rel: str, img: Any) -> None:
        self._pending_badges[rel] = img
        if not self._badge_timer.isActive():
            self._badge_timer.start()

    def _flush_badges(self) -> None:
        pending, self._pending_badges = self._pending_badges, {}
        for rel, img in pending.items():
            badges.apply_one(self.model, rel, img)

    def _on_finished(self, analysis: Any, report: dict[str, Any]) -> None:
        self._badge_timer.stop()
        self._pending_badges = {}
        badges.apply_badges(self.model, self.controller.images)
        self.dashboard.set_report(report)
        ran = report["backend"]
        notice, self._backend_notice = self._backend_notice, None
        text = f"{notice[:1].upper()}{notice[1:]}. " if notice else ""
        text += f"Ran {ran['name']}"
        text += " (landmarks" if ran["landmarks"] else " (no landmarks: pose from the cascade"
        text += ", identity check)" if ran["embeddings"] else ")"
        if report["identity"]["note"]:
            text += f"; {report['identity']['note']}."
        else:
            text += "."
        if analysis.cached:
            text += f" {analysis.cached} of {len(analysis.images)} from the cache."
        self.dashboard.set_backend_info(text, self._offer_insightface(ran["name"]))
        state = "Analysis cancelled: partial results" if analysis.cancelled else "Analysis done"
        self.dashboard.set_status_text(state)
        self.face_filter.apply()
        self.overlay.refresh()
        self._update_actions()
        if self._raise_on_finish:
            self._raise_on_finish = False
            self.show_dashboard()

    def _on_failed(self, message: str) -> None:
        self.dashboard.set_status_text(f"Face analysis failed: {message}")
        self.dashboard.set_backend_info(f"Face analysis failed: {message}", False)

    def _offer_insightface(self, ran: str) -> bool:
        from desktop.panels.faces.license_dialog import needs_licence

        if ran == "insightface" or self.prefs.insightface_licence == "declined":
            return False
        import importlib.util

        return importlib.util.find_spec("insightface") is not None and needs_licence()

    def _on_model_changed(self, _tl, _br, roles=()) -> None:
        if ExcludedRole in (roles or ()) and self.controller.analysis is not None:
            self.controller.reclassify()

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self.controller.shutdown()

    # -- settings ----------------------------------------------------------------------
    def set_backend(self, key: str) -> None:
        from desktop.panels.faces.license_dialog import LicenceDialog, needs_licence

        if (
            key == "insightface"
            and needs_licence()
            and self.prefs.insightface_licence == "accepted"
        ):
            self.models.download("insightface")  # accepted before, never downloaded: a click
            self.dashboard.select(self.dashboard.backend_combo, self.controller.backend)
            return
        if key == "insightface" and needs_licence():
            dlg = LicenceDialog(self.window)
            self.dialogs["licence"] = dlg
            dlg.accepted.connect(lambda: self._licence_answer(True))
            dlg.rejected.connect(lambda: self._licence_answer(False))
            dlg.open()
            return
        self._apply_backend(key)

    def _licence_answer(self, accepted: bool) -> None:
        from desktop.panels.faces.license_dialog import needs_licence

        self.prefs.insightface_licence = "accepted" if accepted else "declined"
        save_faces_prefs(self.prefs)
        if accepted and needs_licence():
            self.models.download("insightface")  # the backend switches when it is done
            self.dashboard.select(self.dashboard.backend_combo, self.controller.backend)
        elif accepted:
            self._apply_backend("insightface")
        else:
            self._apply_backend(
                self.prefs.backend if self.prefs.backend != "insightface" else "auto"
            )

    # -- face models ---------------------------------------------------------------------
    def _on_backend_notice(self, message: str) -> None:
        self._backend_notice = message  # shown with the results (_on_finished)

    def _on_model_ready(self, key: str) -> None:
        if key == "insightface":
            self._apply_backend("insightface")
        else:
            self.controller.model_dir = str(self.models.folder())
            self.start()  # auto now finds the new file

    def _on_model_failed(self, key: str, message: str) -> None:
        # The dock keeps the last results and every control stays usable.
        self.dashboard.select(self.dashboard.backend_combo, self.controller.backend)
        self.dashboard.set_backend_info(f"{key} models not downloaded: {message}", False)

    def _on_model_folder(self, folder: str) -> None:
        self.controller.model_dir = folder
        self.start()

    def _apply_backend(self, key: str) -> None:
        self.prefs.backend = key  # type: ignore[assignment]
        save_faces_prefs(self.prefs)
        self.controller.backend = key
        self.dashboard.select(self.dashboard.backend_combo, key)
        for act in self.backend_group.actions():
            act.setChecked(act.data() == key)
        self.start()

    def set_profile(self, key: str) -> None:
        if key == "__custom__":
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Balance profile", "", "Profiles (*.yaml *.yml)"
            )
            if not path:
                self.dashboard.select(self.dashboard.profile_combo, self.prefs.profile)
                return
            key = path
            self.dashboard.add_profile(key, Path(key).stem)
            self.dashboard.select(self.dashboard.profile_combo, key)
        self.prefs.profile = key
        save_faces_prefs(self.prefs)
        self.controller.profile = key
        self.controller.reclassify()

    def _toggle_boxes(self, on: bool) -> None:
        self.prefs.show_face_boxes = on
        save_faces_prefs(self.prefs)
        self.overlay.set_enabled(on)

    def _toggle_auto(self, on: bool) -> None:
        self.prefs.analyze_on_open = on
        save_faces_prefs(self.prefs)

    def _update_actions(self) -> None:
        report = self.controller.report
        has = report is not None
        self.act_duplicates.setEnabled(has and bool(report["duplicates"]))
        ident = report["identity"] if has else {}
        self.act_identity.setEnabled(has and bool(ident.get("outliers") or ident.get("review")))
        self.act_export.setEnabled(self.session.is_open)
        self.act_report.setEnabled(has)
        self.act_cancel.setEnabled(self.controller.running)

    # -- grid --------------------------------------------------------------------------
    def show_advice(self, paths: list[str], message: str) -> None:
        """Filter the grid to the images an advice line is about."""
        self.face_filter.set_key(None)
        self.proxy.set_rel_filter(paths, message)
        self.browser.grid.schedule_request()
        if self.proxy.rowCount():
            self.grid.select_rel(self.proxy.index(0, 0).data(RelRole))

    def set_excluded(self, rels: list[str], excluded: bool) -> None:
        self.session.set_excluded(rels, excluded)
        for rel in rels:
            self.model.set_excluded(rel, excluded)
