"""Caption lint engine: stable rule ids, severity, message, character span, optional fix.

Per-caption rules see one caption (plus optional per-image facts from face analysis);
dataset rules see all captions at once (identity leaks, duplicates, untagged recurring
objects). The types are plain data in :mod:`curation.captions.issues` (re-exported here), so
the CLI prints them as JSON and the GUI draws underlines from ``start``/``end`` and applies
``fix`` with :func:`apply_fixes`. :func:`fixes_for_rule` ("fix all") lives here, above the
rules, because it lints each fixed caption again. The whole-workspace entry point (settings,
vocabulary, face facts, memo) is :func:`curation.captions.workspace_lint.lint_workspace`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from curation.captions.issues import (
    DatasetIssue,
    DatasetReport,
    Fix,
    ImageFacts,
    LintConfig,
    LintIssue,
    RuleInfo,
    Severity,
    apply_fix,
    apply_fixes,
)
from curation.captions.rules import RULES, run_caption_rules
from curation.captions.rules.dataset_rules import run_dataset_rules

log = logging.getLogger(__name__)

__all__ = [
    "DatasetIssue",
    "DatasetReport",
    "Fix",
    "ImageFacts",
    "LintConfig",
    "LintIssue",
    "RuleInfo",
    "Severity",
    "apply_fix",
    "apply_fixes",
    "fixes_for_rule",
    "lint_caption",
    "lint_dataset",
    "rules",
]


def lint_caption(
    text: str | None, config: LintConfig, facts: ImageFacts | None = None
) -> list[LintIssue]:
    """Issues of one caption (per-caption rules only), ordered by position."""
    return run_caption_rules(text, config, facts or ImageFacts())


def lint_dataset(
    captions: Mapping[str, str | None],
    config: LintConfig,
    facts: Mapping[str, ImageFacts] | None = None,
) -> DatasetReport:
    """All rules over a dataset: ``captions`` maps an image's rel path to its caption or None."""
    facts = facts or {}
    per = {
        rel: run_caption_rules(text, config, facts.get(rel) or ImageFacts())
        for rel, text in captions.items()
    }
    dataset = run_dataset_rules(captions, config, facts, per)
    for rel in per:
        per[rel].sort(key=lambda i: (i.start, i.end, i.rule))
    return DatasetReport(per, dataset, dict(facts))


def fixes_for_rule(
    captions: Mapping[str, str | None],
    report: DatasetReport,
    rule: str,
    config: LintConfig | None = None,
    facts: Mapping[str, ImageFacts] | None = None,
) -> dict[str, str]:
    """New caption text per image after applying every fix of ``rule`` ("fix all" in the GUI
    and ``likeness captions lint --fix``): one call fixes every finding of the rule in every
    caption, never one per caption per click.

    With ``config`` (the one the report was made with), a per-caption rule is linted again
    on each fixed caption and its new fixes applied, until none is left (at most
    ``_FIX_ROUNDS`` rounds): fixes that overlapped in the first pass are applied too. Pass
    the result to ``Workspace.apply_changes(..., label=f"fix all: {rule}")`` so the whole
    batch is one undo step, then lint once. ``facts``: the per-image facts of the re-lint
    (default: those the report was made with).
    """
    facts = report.facts if facts is None else facts
    again = config is not None and rule in RULES and RULES[rule].scope == "caption"
    out: dict[str, str] = {}
    for rel, issues in report.captions.items():
        text = captions.get(rel)
        fixes = [i.fix for i in issues if i.rule == rule and i.fix is not None]
        if text is None or not fixes:
            continue
        new = apply_fixes(text, fixes)
        for _ in range(_FIX_ROUNDS - 1):
            if not again or config is None or not new.strip():
                break
            found = run_caption_rules(new, config, facts.get(rel) or ImageFacts())
            more = [i.fix for i in found if i.rule == rule and i.fix is not None]
            newer = apply_fixes(new, more) if more else new
            if newer == new:
                break
            new = newer
        if new != text:
            out[rel] = new
    return out


_FIX_ROUNDS = 4


def rules() -> dict[str, RuleInfo]:
    """Every rule id with its default severity, scope and description."""
    return dict(RULES)
