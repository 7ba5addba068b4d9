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
        controller.report_changed.connect(self.update)

    def update(self, report) -> None:
        self.model.set_badges(SOURCE, badges_for_report(report))
