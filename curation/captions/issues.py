"""The caption lint's plain data: severity, fixes, issues, per-image facts, the config.

Its own module so that the rules (``curation.captions.rules``), the engine
(``curation.captions.lint``), the workspace lint and the GUI all import the same types
without importing each other. No Qt, no torch.

A :class:`Fix` replaces ``text[start:end]`` with ``replacement``; a fix that rewrites the
whole caption has ``start == 0`` and ``end == len(text)``. :func:`apply_fixes` is THE fixer:
the CLI, the editor's quick fix and the GUI's "Fix all" (``captions.lint.fixes_for_rule``)
all apply fixes through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from curation.captions.vocabulary import Vocabulary, load_vocabulary

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


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

    @property
    def title(self) -> str:
        """``label``, or what the fix does when the rule gave none (menus, tooltips)."""
        if self.label:
            return self.label
        return f"replace with “{self.replacement}”" if self.replacement else "remove it"

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "replacement": self.replacement,
            "label": self.label,
        }


@dataclass(frozen=True)
class LintIssue:
    """One finding on one caption. ``rel`` names the image when the issue travels without
    its caption (the GUI's lint panel); it is not part of the JSON."""

    rule: str
    severity: Severity
    message: str
    start: int
    end: int
    fix: Fix | None = None
    rel: str = ""

    @property
    def rank(self) -> int:
        """0 for errors, 1 warnings, 2 infos: sort key, most severe first."""
        return SEVERITY_ORDER.get(str(self.severity), 3)

    def covers(self, pos: int) -> bool:
        """True when the cursor position ``pos`` is inside (or at the edge of) the span."""
        if self.start == self.end:
            return pos == self.start
        return self.start <= pos <= self.end

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
    """The lint of a dataset: ``captions`` maps each image to its per-caption issues (the
    dataset rules add theirs, with spans and fixes, to the captions they name); ``dataset``
    lists the dataset findings; ``facts`` the per-image facts the lint used."""

    captions: dict[str, list[LintIssue]]
    dataset: list[DatasetIssue]
    facts: dict[str, ImageFacts] = field(default_factory=dict)

    def issues(self, rule: str | None = None) -> list[tuple[str, LintIssue]]:
        return [
            (path, issue)
            for path, issues in self.captions.items()
            for issue in issues
            if rule is None or issue.rule == rule
        ]

    def count(self, severity: Severity | None = None) -> int:
        return sum(1 for _, i in self.issues() if severity is None or i.severity == severity)

    @cached_property
    def by_rel(self) -> dict[str, list[LintIssue]]:
        """Each image's issues with ``rel`` set, plus every dataset finding on each image it
        names that its rule left unmarked (a zero-width issue without fix, e.g. on a missing
        caption): what a per-image view (badges, the lint panel) shows."""
        out = {rel: [replace(i, rel=rel) for i in issues] for rel, issues in self.captions.items()}
        for d in self.dataset:
            for rel in d.paths:
                marks = out.setdefault(rel, [])
                if not any(i.rule == d.rule for i in marks):
                    marks.append(LintIssue(d.rule, d.severity, d.message, 0, 0, None, rel))
        return out

    @cached_property
    def general(self) -> list[LintIssue]:
        """The dataset findings that name no image, as issues without a span."""
        return [LintIssue(d.rule, d.severity, d.message, 0, 0) for d in self.dataset if not d.paths]

    def all_issues(self) -> list[LintIssue]:
        """Every issue of :attr:`by_rel`, then :attr:`general`."""
        return [i for issues in self.by_rel.values() for i in issues] + list(self.general)

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


def apply_fixes(text: str, fixes: Iterable[Fix]) -> str:
    """Apply several fixes to one caption; overlapping ones are skipped (re-lint after).

    Whole-caption rewrites are only applied when they are the only fix.
    """
    fixes = list(fixes)
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
    for _ in range(2):  # "x, with , y" -> "x, , y" -> "x, y"
        text = re.sub(r"(?:^|(?<=,))\s*(?:with|and)\s*(?=,|$)", "", text)
        text = re.sub(r"\s+(?:with|and)\s*(?=,|$)", "", text)
        text = re.sub(r"\s*,\s*(?:,\s*)+", ", ", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip().strip(",").strip()
