"""The face panel's dialogs: duplicate and identity review, export, saving the report.

A mixin of ``FacesPanel`` (it uses the panel's session, controller, grid, model and prefs).
Dialogs are modeless; opening one again replaces the previous one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from desktop.panels.faces.prefs import save_faces_prefs

log = logging.getLogger(__name__)


class DialogsMixin:
    def open_duplicates(self):
        from desktop.panels.faces.review_duplicates import DuplicateReview

        analysis = self.controller.analysis
        ws = self.session.workspace
        if analysis is None or ws is None:
            return None
        dlg = DuplicateReview(ws.root, analysis.duplicates, self.controller.images,
                              ws.is_excluded, self.set_excluded, self.window)  # fmt: skip
        return self._show("duplicates", dlg)

    def open_identity(self):
        from desktop.panels.faces.review_identity import IdentityReview

        ws = self.session.workspace
        if self.controller.analysis is None or ws is None:
            return None
        dlg = IdentityReview(ws.root, dict(self.controller.images),
                             self.overrides.set_override, self.set_excluded, self.window)  # fmt: skip
        return self._show("identity", dlg)

    def open_export(self):
        from desktop.panels.faces.export_dialog import ExportDialog

        if not self.session.is_open:
            return None
        faces = {rel: (img.primary.box if img.primary is not None else None)
                 for rel, img in self.controller.images.items()}  # fmt: skip
        rel = self.grid.current_rel() or next((r.rel for r in self.model.rows if not r.error), "")
        p = self.prefs
        defaults = {"crop_edges": p.export_crop_edges, "face_crop": p.export_face_crop,
                    "face_size": p.export_face_size, "face_ratio": p.export_face_ratio}  # fmt: skip
        images = dict(self.controller.images)
        bad = {r for r, img in images.items() if img.error is not None}
        report = self.controller.report
        dlg = ExportDialog(self.session, faces, rel, defaults, self._remember_export,
                           self.window, unreadable=bad, images=images,
                           verdict=report.get("verdict") if report else None,
                           lint_counts=_lint_counter(self.session.workspace, images),
                           thresholds=_thresholds(self.controller.profile))  # fmt: skip
        return self._show("export", dlg)

    def _remember_export(self, values: dict[str, Any]) -> None:
        p = self.prefs
        p.export_crop_edges = dict(values["crop_edges"])
        p.export_face_crop = bool(values["face_crop"])
        p.export_face_size = int(values["face_size"])
        p.export_face_ratio = float(values["face_ratio"])
        save_faces_prefs(p)

    def _show(self, name: str, dlg):
        old = self.dialogs.get(name)
        if old is not None:
            old.close()
        self.dialogs[name] = dlg
        dlg.setModal(False)
        dlg.show()
        return dlg

    def save_report(self, path: str | None = None) -> Path | None:
        report = self.controller.report
        if report is None:
            return None
        if path is None:
            start = str(Path(self.session.root or ".") / "balance-report.html")
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Save the balance report", start, "HTML (*.html);;JSON (*.json)"
            )
            if not path:
                return None
        out = Path(path)
        try:
            if out.suffix.lower() == ".json":
                from curation.fsio import write_atomic_text

                write_atomic_text(out, json.dumps(report, indent=2))
            else:
                from curation.report_html import write_html

                write_html(report, out)
        except OSError as exc:
            log.error("Cannot save the report to %s: %s", out, exc)
            return None
        self.window.banner.show_message("info", f"Balance report saved to {out}")
        return out


def _thresholds(profile: str) -> tuple[float, float] | None:
    """(close_up_min, medium_min) of the balance profile, None when it cannot be read."""
    from curation.balance.profiles import load_profile
    from curation.errors import LikenessError

    try:
        th = load_profile(profile).thresholds
    except (LikenessError, OSError, ValueError) as exc:
        log.warning("Profile %s not readable for the export's tier check: %s", profile, exc)
        return None
    return th.close_up_min, th.medium_min


def _lint_counter(ws, images: dict[str, Any]):
    """A job for the thread pool: rel -> number of caption lint errors (excluded images are
    not linted). Captions and settings are read here, on the GUI thread; the job only lints."""
    from curation.captions.workspace_lint import workspace_captions

    try:
        captions, settings = workspace_captions(ws), ws.settings()
    except Exception as exc:  # noqa: BLE001 (the summary says captions were not checked)
        message = str(exc)

        def fail() -> dict[str, int]:
            raise RuntimeError(message)

        return fail

    def count() -> dict[str, int]:
        from curation.captions.issues import Severity
        from curation.captions.workspace_lint import lint_workspace

        report = lint_workspace(ws, settings, analysis=images, captions=captions)
        return {
            rel: n
            for rel, issues in report.captions.items()
            if (n := sum(1 for i in issues if i.severity == Severity.ERROR))
        }

    return count
