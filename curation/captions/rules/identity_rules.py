"""Per-caption rules about identity: descriptors, the identity line, invisible features."""

from __future__ import annotations

import re
from collections.abc import Iterator

from curation.captions.issues import Fix, LintIssue, Severity
from curation.captions.rules.base import CaptionContext, removal_fix

_STOP = {"a", "an", "the", "with", "and", "of", "her", "his", "their", "in", "is"}
_BACK_CUE = re.compile(
    r"\b(?:from\s+behind|back\s+view|rear\s+view|back\s+to\s+the\s+(?:camera|viewer)"
    r"|facing\s+away|seen\s+from\s+(?:the\s+)?back|view\s+from\s+behind|from\s+the\s+back)\b",
    re.I,
)
_PROFILE_CUE = re.compile(
    r"\b(?:in\s+profile|profile\s+view|side\s+view|from\s+the\s+side)\b", re.I
)
_EARRINGS = re.compile(
    r"\b(?:(?:gold|golden|silver|pearl|diamond|small|large|big|hoop|stud|dangling|drop|teardrop"
    r"|statement|dangly|tiny)\s+)*(?:earrings?|ear\s+studs|hoops|studs)\b",
    re.I,
)
_FACE_CATEGORIES = {"eye_colour", "face_shape", "freckles_moles"}


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _STOP]


def identity_descriptor(ctx: CaptionContext) -> Iterator[LintIssue]:
    for m in ctx.identity:
        where = " outside the declared identity line" if ctx.config.identity_line else ""
        yield LintIssue(
            "identity-descriptor",
            Severity.WARNING,
            f"'{m.text}' describes identity{where} ({m.reason}); the trigger learns it",
            m.start,
            m.end,
            removal_fix(ctx.text, m.start, m.end, f"remove '{m.text}'"),
        )


def identity_line_mismatch(ctx: CaptionContext) -> Iterator[LintIssue]:
    line = (ctx.config.identity_line or "").strip()
    if not line or ctx.identity_line_spans:
        return
    target = set(_tokens(line))
    if not target:
        return
    text = ctx.text
    frags = [(m.start(), m.end()) for m in re.finditer(r"[^,.;]+", text)]
    width = line.count(",") + 2
    best = (0.0, 0, 0)
    for i in range(len(frags)):
        for j in range(i, min(len(frags), i + width)):
            start, end = frags[i][0], frags[j][1]
            toks = set(_tokens(text[start:end]))
            if not toks:
                continue
            score = len(toks & target) / len(toks | target)
            if score > best[0]:
                best = (score, start, end)
    score, start, end = best
    if score < 0.5:
        return
    while start < end and text[start] == " ":
        start += 1
    end = len(text[:end].rstrip())
    yield LintIssue(
        "identity-line-mismatch",
        Severity.WARNING,
        f"'{text[start:end]}' differs from the declared identity line '{line}': keep it word "
        "for word identical in every caption",
        start,
        end,
        Fix(start, end, line, "use the identity line"),
    )


def invisible_feature(ctx: CaptionContext) -> Iterator[LintIssue]:
    facts = ctx.facts
    text = ctx.text
    back = bool(facts.back_view) or facts.pose == "back" or bool(_BACK_CUE.search(text))
    profile = facts.pose == "profile" or bool(_PROFILE_CUE.search(text))
    if not back and not profile:
        return
    view = "a back view" if back else "a profile view"
    for m in ctx.identity:
        if m.category == "eye_colour" or (back and m.category in _FACE_CATEGORIES):
            yield LintIssue(
                "invisible-feature",
                Severity.WARNING,
                f"'{m.text}' cannot be seen in {view}: don't tag what is not visible",
                m.start,
                m.end,
                removal_fix(text, m.start, m.end, f"remove '{m.text}'"),
            )
    if not back:
        return
    seen = [(m.start(), m.end()) for m in _EARRINGS.finditer(text)]
    seen += [(m.start(), m.end()) for m in ctx.vocab.expression_regex.finditer(text)]
    for start, end in sorted(seen):
        phrase = text[start:end]
        yield LintIssue(
            "invisible-feature",
            Severity.WARNING,
            f"'{phrase}' cannot be seen in a back view: don't tag what is not visible",
            start,
            end,
            removal_fix(text, start, end, f"remove '{phrase}'"),
        )


RULE_FUNCS = [identity_descriptor, identity_line_mismatch, invisible_feature]
