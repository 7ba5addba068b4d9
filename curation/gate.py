"""The launch gate: may this dataset be trained on now?

A run is refused while the dataset's caption lint has errors (an ``identity-leak`` finding
counts as one) or the balance verdict is NOT READY. Warnings never block. Excluded images
take no part (the lint reads only the images that train). The verdict comes from the face
analysis the app cached (``curation.analysis.cached``) or one the caller passes; with none
cached there is no verdict to refuse on, and the gate says so in ``notes``.

The GUI's Train tab and ``likeness train`` both call :func:`check_dataset`; the user can
override ("Train anyway" / ``--force``) and the reasons are then kept in the run's metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

BLOCKING_RULES = frozenset({"identity-leak"})


@dataclass(frozen=True)
class GateReason:
    kind: str  # "lint" | "verdict"
    rule: str  # the lint rule, or "not-ready"
    message: str
    paths: tuple[str, ...] = ()  # the images to jump to

    def line(self) -> str:
        where = ""
        if self.paths:
            shown = ", ".join(self.paths[:3])
            more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
            where = f" ({shown}{more})"
        return f"{self.rule}: {self.message}{where}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "message": self.message,
            "paths": list(self.paths),
        }


@dataclass
class GateResult:
    folder: str
    reasons: list[GateReason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: str | None = None  # "ready" / "ready-with-warnings" / "not-ready" / None

    @property
    def ok(self) -> bool:
        return not self.reasons


def _lint_reasons(report: Any) -> list[GateReason]:
    from curation.captions.issues import Severity

    grouped: dict[tuple[str, str], list[str]] = {}
    for rel, issue in report.issues():
        if issue.severity == Severity.ERROR or issue.rule in BLOCKING_RULES:
            grouped.setdefault((issue.rule, issue.message), []).append(rel)
    reasons = [
        GateReason("lint", rule, msg, tuple(sorted(set(rels))))
        for (rule, msg), rels in grouped.items()
    ]
    for d in report.dataset:
        if d.severity == Severity.ERROR or d.rule in BLOCKING_RULES:
            if not any(r.rule == d.rule and r.message == d.message for r in reasons):
                reasons.append(GateReason("lint", d.rule, d.message, tuple(d.paths)))
    return reasons


def check_dataset(
    workspace: Any, *, settings: Any = None, analysis: Any = None, trigger: str | None = None
) -> GateResult:
    """The gate for one open ``Workspace``. ``analysis``: a ``DatasetAnalysis`` (the GUI's
    current one); None reads the cached one. ``trigger``: the run's trigger, used when the
    dataset settings have none yet (else the trigger itself reads as an identity leak)."""
    from dataclasses import replace

    from curation.captions.workspace_lint import LintMemo, lint_workspace

    result = GateResult(folder=str(workspace.root))
    chosen = settings if settings is not None else workspace.settings()
    if trigger and not chosen.trigger:
        chosen = replace(chosen, trigger=trigger)
    memo = LintMemo()
    report = lint_workspace(workspace, chosen, memo=memo)
    result.reasons.extend(_lint_reasons(report))
    if analysis is None:
        analysis = memo.cached_analysis(workspace, chosen.profile)
    if analysis is None:
        result.notes.append("no face analysis yet: the balance verdict was not checked")
        return result
    from curation.balance.report import build_report

    try:
        verdict = build_report(analysis)["verdict"]
    except Exception as exc:  # noqa: BLE001 - a verdict that cannot be built does not block
        log.warning("no balance verdict for %s: %s", workspace.root, exc)
        result.notes.append(f"the balance verdict could not be built: {exc}")
        return result
    result.verdict = verdict["status"]
    if verdict["status"] == "not-ready":
        for reason in verdict["reasons"]:
            result.reasons.append(GateReason("verdict", "not-ready", reason))
    return result


def check_folder(folder: str, trigger: str | None = None) -> GateResult:
    """The gate for a dataset folder (opened and closed here); an unusable folder is a reason."""
    from curation.errors import LikenessError
    from curation.workspace import Workspace

    try:
        ws = Workspace.open(folder)
    except LikenessError as exc:
        return GateResult(folder, [GateReason("dataset", "unusable", str(exc))])
    with ws:
        return check_dataset(ws, trigger=trigger)
