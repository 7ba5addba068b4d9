"""Lint badges on grid tiles: the count of caption errors and warnings per image."""

from __future__ import annotations

from desktop.models.thumbnail_model import Badge
from desktop.panels.captions.common import SEVERITY_BADGE

SOURCE = "lint"


def badges_for_report(report) -> dict[str, list[Badge]]:
    """``{rel: [Badge("2 errors"...)]}``: one pill per severity (errors, then warnings)."""
    out: dict[str, list[Badge]] = {}
    for rel, marks in report.by_rel.items():
        errors = sum(1 for m in marks if m.severity == "error")
        warnings = sum(1 for m in marks if m.severity == "warning")
        pills = []
        if errors:
            pills.append(Badge(f"✕ {errors}", SEVERITY_BADGE["error"]))
        if warnings:
            pills.append(Badge(f"! {warnings}", SEVERITY_BADGE["warning"]))
        if pills:
            out[rel] = pills
    return out


class LintBadges:
    """Keeps the grid's ``"lint"`` badges in step with the controller's report."""

    def __init__(self, controller, model) -> None:
        self.model = model
        self._shown: dict[str, list[Badge]] = {}
        self._rows = None
        controller.report_changed.connect(self.update)

    def update(self, report) -> None:
        new = badges_for_report(report)
        if self._rows is not self.model.rows:  # a new folder: the model dropped all badges
            self._rows, self._shown = self.model.rows, {}
            self.model.set_badges(SOURCE, new)
        else:  # repaint only the tiles whose badges changed (one save changes a few)
            for rel in set(self._shown) | set(new):
                if self._shown.get(rel) != new.get(rel):
                    self.model.set_row_badges(rel, SOURCE, new.get(rel, []))
        self._shown = new
