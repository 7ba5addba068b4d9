"""``CaptionsController``: the caption panels' state for one window, no widgets of its own.

It owns the dataset's caption settings and the latest dataset lint report. The whole dataset
is re-linted off the GUI thread (a generation counter drops stale results) when a folder
opens, when captions change (save, undo, bulk edit) and when the settings change. The
editor's live lint runs on the GUI thread for one caption (sub-millisecond), and keeps the
dataset-level findings (identity leak, duplicates) of that caption from the last report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from curation.captions.issues import DatasetReport, Fix, LintIssue
from curation.captions.lint import fixes_for_rule, lint_caption, rules
from curation.captions.stats import count_token, count_verbatim
from curation.captions.workspace_lint import LintMemo, lint_config, lint_workspace
from curation.dataset_settings import DatasetSettings, settings_or_guess
from desktop.workers import Job, run_in_pool

if TYPE_CHECKING:
    from desktop.models.session import DatasetSession

log = logging.getLogger(__name__)


class CaptionEditorPort(Protocol):
    """What the controller uses of the caption editor."""

    rel: str

    def save(self) -> bool: ...

    def text(self) -> str: ...

    def reload_text(self, text: str) -> None: ...


class CaptionBrowser(Protocol):
    """The browser as the caption panels see it (``DatasetBrowser`` in the app, a
    ``Mock(spec=CaptionBrowser)`` in the controller's unit tests)."""

    editor: CaptionEditorPort
    counts_changed: Any  # a Qt signal: exclusions or counts changed

    def reveal(self, rel: str) -> bool: ...


class CaptionsController(QObject):
    settings_changed = Signal(object)  # DatasetSettings
    report_changed = Signal(object)  # curation.captions.issues.DatasetReport
    jump_requested = Signal(str, int, int)  # rel, start, end

    def __init__(
        self, session: DatasetSession, browser: CaptionBrowser, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.browser = browser
        self.settings = DatasetSettings()
        self.report = _empty_report()
        self.last_lint_seconds = 0.0
        self._caption_rules = frozenset(k for k, v in rules().items() if v.scope == "caption")
        #: the latest face analysis (tier, pose, back view), shared through the session
        self.store = session.analysis_store
        #: vocabulary, word budgets, the cached face analysis (read once per open, in the
        #: lint worker) and per-caption issues, reused by every lint of the open dataset
        self.memo = LintMemo()
        self._job: Job | None = None
        self._generation = 0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(400)
        self.timer.timeout.connect(self.relint_now)
        session.opened.connect(self._on_opened)
        session.closed.connect(self._on_closed)
        session.captions_changed.connect(lambda _rels: self.schedule_relint())
        # a finished face analysis brings new facts (tiers, poses, back views)
        self.store.subscribe(lambda kind: self.schedule_relint() if kind == "complete" else None)
        # exclusions (Ctrl+E) change what is linted; counts_changed follows them
        browser.counts_changed.connect(self.schedule_relint)

    # -- settings ----------------------------------------------------------------------------
    def _on_opened(self, *_args) -> None:
        self.memo.forget_workspace()
        ws = self.session.workspace
        self.settings = settings_or_guess(ws) if ws else DatasetSettings()
        self.settings_changed.emit(self.settings)
        self.relint_now()

    def _on_closed(self) -> None:
        self._generation += 1
        self.memo.forget_workspace()
        self.settings = DatasetSettings()
        self.report = _empty_report()
        self.report_changed.emit(self.report)

    def set_settings(self, settings: DatasetSettings) -> None:
        ws = self.session.workspace
        if ws is None:
            return
        try:
            ws.set_settings(settings)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            log.error("Cannot save the dataset settings: %s", exc)
            self.session.notify.emit("error", f"Cannot save the dataset settings: {exc}")
            return
        self.settings = settings
        self.settings_changed.emit(settings)
        self.relint_now()

    def count_token(self, token: str) -> int:
        """How many captions contain ``token`` as a word."""
        if self.session.workspace is None:
            return 0
        return count_token(self.session.workspace.captions().values(), token)

    def count_identity_line(self, line: str) -> tuple[int, int]:
        """(captions containing ``line`` verbatim, captions with text)."""
        if self.session.workspace is None:
            return 0, 0
        return count_verbatim(self.session.workspace.captions().values(), line)

    def rename_trigger(self, old: str, new: str):
        from curation.bulk import plan_rename_trigger

        self.browser.editor.save()
        changes = plan_rename_trigger(
            self.session.workspace.captions(), old, new, case_sensitive=True
        )
        if not changes:
            return None
        return self.session.apply_changes(changes, label=f"rename trigger {old} → {new}")

    # -- lint ------------------------------------------------------------------------------
    def schedule_relint(self) -> None:
        if self.session.is_open:
            self.timer.start()

    def relint_now(self, wait: bool = False) -> None:
        """Lint every caption off the GUI thread (``wait``: on this thread, for tests)."""
        self.timer.stop()
        ws = self.session.workspace
        if ws is None:
            return
        # a snapshot on this thread: the editor may save while the worker lints
        excluded = ws.excluded()  # not trained, so not linted (as the CLI)
        captions = {
            item.rel: (ws.caption(item.rel) if ws.has_caption(item.rel) else None)
            for item in ws.items
            if item.rel not in excluded
        }
        settings, memo = self.settings, self.memo
        analysis = self.analysis()
        final = self.store.complete
        self._generation += 1
        gen = self._generation

        def work():
            t0 = time.perf_counter()
            # until the faces panel's own analysis is complete, its results (maybe none yet)
            # are laid over the last cached analysis (read once, here off the GUI thread)
            report = lint_workspace(
                ws,
                settings,
                analysis=analysis if (final or analysis) else None,
                analysis_complete=final,
                memo=memo,
                captions=captions,
            )
            _ = report.by_rel, report.general  # built here, not on the GUI thread
            return gen, report, time.perf_counter() - t0

        if wait:
            self._on_report(work())
            return
        if self._job is not None:
            self._job.stale = True
        self._job = run_in_pool(work, on_done=self._on_report, on_error=self._on_lint_error)

    def _on_report(self, result) -> None:
        gen, report, seconds = result
        if gen != self._generation:
            return
        self._job = None
        self.report = report
        self.last_lint_seconds = seconds
        log.debug("Linted %d captions in %.3f s", len(report.captions), seconds)
        self.report_changed.emit(report)

    def _on_lint_error(self, message: str, _exc: BaseException) -> None:
        self._job = None
        log.error("Caption lint failed: %s", message)

    def analysis(self) -> dict:
        """rel -> the session's latest ``ImageAnalysis`` (empty when faces never ran)."""
        return dict(self.store.images)

    def shots(self, rels: list[str]) -> dict[str, str]:
        """Shot tier per image from the face analysis, for the autocaption prefix."""
        return self.store.tiers(rels)

    def lint_caption(self, rel: str, text: str) -> list[LintIssue]:
        """Live lint of the editor's text: per-caption rules now, plus the dataset-level
        findings of the last report for ``rel`` whose text is still where it was."""
        ws = self.session.workspace
        has = bool(text.strip()) or (ws is not None and ws.has_caption(rel))
        facts = self.report.facts.get(rel)
        config = lint_config(self.settings, self.memo)
        marks = [replace(m, rel=rel) for m in lint_caption(text if has else None, config, facts)]
        local_rules = {m.rule for m in marks} | self._caption_rules
        saved = self.session.caption(rel)
        for m in self.report.by_rel.get(rel, []):
            if m.rule in local_rules:
                continue
            moved = _relocate(m, saved, text)
            if moved is not None:
                marks.append(moved)
        return marks

    # -- fixes -------------------------------------------------------------------------------
    def apply_caption_text(self, rel: str, new_text: str, label: str) -> None:
        """Write a fixed caption as one undo step (pending typing is saved first)."""
        editor = self.browser.editor
        if editor.rel == rel:
            editor.save()
        self.session.apply_changes({rel: new_text}, label=label, origin="user")
        if editor.rel == rel and editor.text() != self.session.caption(rel):
            editor.reload_text(self.session.caption(rel))

    def ensure_fresh(self) -> None:
        """Re-lint now when a caption changed since the last report, so fix spans match the
        text they are applied to (a stale span would cut the wrong words)."""
        if self.timer.isActive() or self._job is not None:
            self.relint_now(wait=True)

    def marks_for_rule(self, rule: str) -> list[LintIssue]:
        return [m for m in self.report.all_issues() if m.rule == rule]

    def fix_all(self, rule: str):
        """Apply every fix of ``rule`` across the dataset with the core's fixer (the CLI's
        ``likeness lint --fix``), as ONE undo step, then re-lint once. The fixer is given the
        lint's config, so it lints each fixed caption again and applies the fixes that
        overlapped: one click leaves no finding of the rule behind."""
        self.browser.editor.save()
        self.ensure_fresh()
        captions = {rel: self.session.caption(rel) for rel in self.report.captions}
        config = lint_config(self.settings, self.memo)
        changes = fixes_for_rule(captions, self.report, rule, config)
        if not changes:
            return None
        result = self.session.apply_changes(
            changes, label=f"fix all {rule} ({len(changes)} captions)"
        )
        self.relint_now()
        return result

    def jump_to(self, rel: str, start: int = 0, end: int = 0) -> bool:
        """Show ``rel`` in the grid and the detail view, selecting the span in the editor."""
        if not self.browser.reveal(rel):
            return False
        self.jump_requested.emit(rel, start, end)
        return True


def _empty_report() -> DatasetReport:
    return DatasetReport({}, [])


def _relocate(mark: LintIssue, saved: str, text: str) -> LintIssue | None:
    """``mark`` (found on ``saved``) moved onto the edited ``text``, or None if it is gone."""
    fragment = saved[mark.start : mark.end]
    if text == saved or not fragment:
        return mark if text == saved or mark.start == mark.end else None
    if text[mark.start : mark.end] == fragment:
        return mark
    at = text.find(fragment)
    if at < 0:
        return None
    shift = at - mark.start
    fix = mark.fix
    if fix is not None:
        fix = Fix(fix.start + shift, fix.end + shift, fix.replacement, fix.label)
    return replace(mark, start=at, end=at + len(fragment), fix=fix)
