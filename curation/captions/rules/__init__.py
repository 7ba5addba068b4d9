"""Lint rules. Ids are stable: the GUI, the CLI JSON and user settings refer to them.

The shared pieces live in :mod:`.base`; the rules in :mod:`.caption_rules`,
:mod:`.identity_rules` (per caption) and :mod:`.dataset_rules` (the whole dataset).
"""

from __future__ import annotations

from curation.captions.issues import Fix, ImageFacts, LintConfig, LintIssue
from curation.captions.rules import caption_rules, identity_rules
from curation.captions.rules.base import (
    RULES,
    SHOT_PREFIX_RE,
    SHOT_TAG_RE,
    WORD_RE,
    CaptionContext,
    E,
    removal_fix,
)


def run_caption_rules(text: str | None, config: LintConfig, facts: ImageFacts) -> list[LintIssue]:
    if text is None:
        return _enabled(config, [LintIssue("missing-caption", E, _MISSING, 0, 0)])
    if not text.strip():
        return _enabled(config, [LintIssue("empty-caption", E, _EMPTY, 0, len(text))])
    ctx = CaptionContext(text, config, facts)
    issues: list[LintIssue] = []
    for rule in caption_rules.RULE_FUNCS + identity_rules.RULE_FUNCS:
        issues.extend(rule(ctx))
    issues = _enabled(config, issues)
    issues.sort(key=lambda i: (i.start, i.end, i.rule))
    return issues


def _enabled(config: LintConfig, issues: list[LintIssue]) -> list[LintIssue]:
    if not config.disabled:
        return issues
    return [i for i in issues if i.rule not in config.disabled]


_MISSING = "no caption: write a .txt with the same name as the image"
_EMPTY = "the caption is empty: describe what varies (pose, expression, outfit, background)"

__all__ = [
    "RULES",
    "SHOT_PREFIX_RE",
    "SHOT_TAG_RE",
    "WORD_RE",
    "CaptionContext",
    "Fix",
    "removal_fix",
    "run_caption_rules",
]
