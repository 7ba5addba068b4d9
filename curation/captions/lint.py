"""Caption lint engine: stable rule ids, severity, message, character span, optional fix.

Per-caption rules see one caption (plus optional per-image facts from face analysis);
dataset rules see all captions at once (identity leaks, duplicates, untagged recurring
objects). The types are plain data in :mod:`curation.captions.issues` (re-exported here), so the CLI
prints them as JSON and the GUI draws underlines from ``start``/``end`` and applies ``fix``
with :func:`apply_fixes`. The whole-workspace entry point (settings, vocabulary, face facts,
memo) is :func:`curation.captions.workspace_lint.lint_workspace`.
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
    fixes_for_rule,
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


def rules() -> dict[str, RuleInfo]:
    """Every rule id with its default severity, scope and description."""
    return dict(RULES)
