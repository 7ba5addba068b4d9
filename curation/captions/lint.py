"""Caption lint engine: stable rule ids, severity, message, character span, optional fix.

Per-caption rules see one caption (plus optional per-image facts from face analysis);
dataset rules see all captions at once (identity leaks, duplicates, untagged recurring
objects). Everything here is plain data, so the CLI prints it as JSON and the GUI draws
underlines from ``start``/``end`` and applies ``fix`` with :func:`apply_fix`.

A :class:`Fix` replaces ``text[start:end]`` with ``replacement``; a fix that rewrites the
whole caption has ``start == 0`` and ``end == len(text)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from curation.captions.vocabulary import Vocabulary, load_vocabulary

log = logging.getLogger(__name__)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Fix:
    start: int
    end: int
    replacement: str
    label: str = ""

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "replacement": self.replacement,
            "label": self.label,
        }


@dataclass(frozen=True)
class LintIssue:
    rule: str
    severity: Severity
    message: str
    start: int
    end: int
    fix: Fix | None = None

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "start": self.start,
            "end": self.end,
            "fix": self.fix.to_dict() if self.fix else None,
        }


@dataclass(frozen=True)
class DatasetIssue:
    rule: str
    severity: Severity
    message: str
    paths: tuple[str, ...] = ()
    phrase: str | None = None

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "paths": list(self.paths),
            "phrase": self.phrase,
        }


@dataclass(frozen=True)
class ImageFacts:
    """Optional per-image facts from face analysis and autocaptioning.

    ``tier``: "close-up" | "medium" | "full-body"; ``pose``: "frontal" | "three-quarter" |
    "profile" | "back"; ``back_view``: a person with no visible face; ``detected``: object
    labels an autocaptioner saw (Florence-2 ``<OD>`` labels, garments named in raw captions).
    """

    tier: str | None = None
    pose: str | None = None
    back_view: bool | None = None
    detected: tuple[str, ...] = ()


@dataclass
class LintConfig:
    trigger: str
    identity_line: str | None = None
    max_words: int | None = None
    vocab: Vocabulary | None = None
    disabled: frozenset[str] = frozenset()
    leak_fraction: float = 0.8
    leak_min_captions: int = 4
    recurring_fraction: float = 0.5
    recurring_min_images: int = 3
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def vocabulary(self) -> Vocabulary:
        if self.vocab is None:
            self.vocab = load_vocabulary()
        return self.vocab


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity
    scope: str  # "caption" | "dataset"
    description: str


@dataclass
class DatasetReport:
    captions: dict[str, list[LintIssue]]
    dataset: list[DatasetIssue]

    def issues(self, rule: str | None = None) -> list[tuple[str, LintIssue]]:
        return [
            (path, issue)
            for path, issues in self.captions.items()
            for issue in issues
            if rule is None or issue.rule == rule
        ]

    def count(self, severity: Severity | None = None) -> int:
        return sum(1 for _, i in self.issues() if severity is None or i.severity == severity)

    def to_dict(self) -> dict:
        return {
            "captions": [
                {"path": path, "issues": [i.to_dict() for i in issues]}
                for path, issues in self.captions.items()
            ],
            "dataset": [d.to_dict() for d in self.dataset],
        }


def apply_fix(text: str, fix: Fix) -> str:
    return text[: fix.start] + fix.replacement + text[fix.end :]


def apply_fixes(text: str, fixes: list[Fix]) -> str:
    """Apply several fixes to one caption; overlapping ones are skipped (re-lint after).

    Whole-caption rewrites are only applied when they are the only fix.
    """
    whole = [f for f in fixes if f.start == 0 and f.end == len(text) and len(text) > 0]
    spans = [f for f in fixes if f not in whole]
    if not spans:
        return apply_fix(text, whole[0]) if whole else text
    merged: list[Fix] = []
    for fix in sorted(spans, key=lambda f: (f.start, f.end)):
        prev = merged[-1] if merged else None
        if prev and fix.start < prev.end and not fix.replacement and not prev.replacement:
            merged[-1] = Fix(prev.start, max(prev.end, fix.end), "", prev.label)
        else:
            merged.append(fix)
    out, last_start = text, len(text) + 1
    for fix in reversed(merged):
        if fix.end > last_start:
            continue
        out = apply_fix(out, fix)
        last_start = fix.start
    return _tidy_after_fix(out)


def _tidy_after_fix(text: str) -> str:
    import re

    for _ in range(2):  # "x, with , y" -> "x, , y" -> "x, y"
        text = re.sub(r"(?:^|(?<=,))\s*(?:with|and)\s*(?=,|$)", "", text)
        text = re.sub(r"\s+(?:with|and)\s*(?=,|$)", "", text)
        text = re.sub(r"\s*,\s*(?:,\s*)+", ", ", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip().strip(",").strip()


def lint_caption(
    text: str | None, config: LintConfig, facts: ImageFacts | None = None
) -> list[LintIssue]:
    """Issues of one caption (per-caption rules only), ordered by position."""
    from curation.captions.rules import run_caption_rules

    return run_caption_rules(text, config, facts or ImageFacts())


def lint_dataset(
    captions: Mapping[str, str | None],
    config: LintConfig,
    facts: Mapping[str, ImageFacts] | None = None,
) -> DatasetReport:
    """All rules over a dataset: ``captions`` maps an image's rel path to its caption or None."""
    from curation.captions.rules import run_caption_rules
    from curation.captions.rules.dataset_rules import run_dataset_rules

    facts = facts or {}
    per = {
        rel: run_caption_rules(text, config, facts.get(rel) or ImageFacts())
        for rel, text in captions.items()
    }
    dataset = run_dataset_rules(captions, config, facts, per)
    for rel in per:
        per[rel].sort(key=lambda i: (i.start, i.end, i.rule))
    return DatasetReport(per, dataset)


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
    batch is one undo step, then lint once.
    """
    from curation.captions.rules import RULES, run_caption_rules

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
            found = run_caption_rules(new, config, (facts or {}).get(rel) or ImageFacts())
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
    from curation.captions.rules import RULES

    return dict(RULES)
