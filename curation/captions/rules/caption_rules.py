"""Per-caption rules about the trigger token, outfit wording and length."""

from __future__ import annotations

import re
from collections.abc import Iterator

from curation.caption_io import normalize_caption
from curation.captions.issues import Fix, LintIssue, Severity
from curation.captions.rules.base import WORD_RE, CaptionContext, removal_fix

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_MATERIALS = {
    "leather",
    "denim",
    "silk",
    "cotton",
    "wool",
    "woolen",
    "lace",
    "velvet",
    "satin",
    "linen",
    "sequined",
    "floral",
    "striped",
    "plaid",
    "knitted",
    "knit",
    "tweed",
    "corduroy",
    "polka-dot",
    "checkered",
}
_COLOURS = {
    "black",
    "white",
    "red",
    "blue",
    "green",
    "yellow",
    "pink",
    "purple",
    "orange",
    "brown",
    "grey",
    "gray",
    "navy",
    "beige",
    "gold",
    "silver",
    "cream",
    "teal",
    "maroon",
    "khaki",
    "olive",
    "burgundy",
    "ivory",
    "turquoise",
    "lavender",
}


def deleet(word: str) -> str:
    return word.lower().translate(_LEET)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= limit:
            return limit
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def _variant_kind(token: str, trigger: str, cache: dict) -> str | None:
    key = ("variant", token)
    if key in cache:
        return cache[key]
    kind = None
    base = re.sub(r"['’]s$", "", token)
    tl, trl = token.lower(), trigger.lower()
    if token != trigger:
        if base != token and base.lower() == trl:
            kind = "possessive"
        elif tl == trl:
            kind = "case"
        elif len(trigger) >= 4 and len(base) >= 3:
            limit = 1 if len(trigger) <= 6 else 2
            if edit_distance(base.lower(), trl) <= limit or deleet(base) == deleet(trigger):
                kind = "typo"
    cache[key] = kind
    return kind


def trigger_rules(ctx: CaptionContext) -> Iterator[LintIssue]:
    trig = ctx.config.trigger
    if not trig:
        return
    text = ctx.text
    cache = ctx.config._cache
    variants = []
    if any(_variant_kind(tok, trig, cache) for tok in set(WORD_RE.findall(text))):
        for m in WORD_RE.finditer(text):
            kind = _variant_kind(m.group(0), trig, cache)
            if kind:
                variants.append((m, kind))
    for m, kind in variants:
        what = {
            "case": "different letter case",
            "possessive": "possessive form",
            "typo": "misspelt or de-leeted",
        }[kind]
        yield LintIssue(
            "trigger-variant",
            Severity.WARNING,
            f"'{m.group(0)}' looks like the trigger '{trig}' ({what}): spell it identically "
            "everywhere so one token learns the identity",
            m.start(),
            m.end(),
            Fix(m.start(), m.end(), trig, f"replace with '{trig}'"),
        )
    spans = ctx.trigger_spans
    prefix_end = ctx.prefix_end
    if not spans:
        if not variants:
            insert = f"{trig}, "
            yield LintIssue(
                "trigger-missing",
                Severity.ERROR,
                f"the trigger '{trig}' is missing: put it first so it learns the identity",
                0,
                0,
                Fix(prefix_end, prefix_end, insert, f"insert '{trig}' at the start"),
            )
        return
    start, end = spans[0]
    if start != prefix_end:
        yield LintIssue(
            "trigger-not-first",
            Severity.WARNING,
            f"the trigger '{trig}' should come first (after the shot type, e.g. 'a close-up "
            f"photo of {trig}, ...')",
            start,
            end,
            Fix(0, len(text), _move_first(text, start, end, prefix_end, trig), "move to front"),
        )


def _move_first(text: str, start: int, end: int, prefix_end: int, trig: str) -> str:
    rest = text[:start] + text[end:]
    rest = re.sub(r"\s*,\s*,\s*", ", ", rest)
    rest = re.sub(r"\s{2,}", " ", rest)
    head, tail = rest[:prefix_end], rest[prefix_end:].strip().lstrip(",").strip()
    tail = re.sub(r"[\s,]+$", "", tail)
    return f"{head}{trig}, {tail}" if tail else f"{head}{trig}"


def vague_outfit(ctx: CaptionContext) -> Iterator[LintIssue]:
    text = ctx.text
    for m in ctx.vocab.vague_outfit_regex.finditer(text):
        phrase = m.group(0)
        if " " not in phrase.strip():
            prev = re.findall(r"[\w-]+", text[: m.start()])[-2:]
            if any(w.lower() in _MATERIALS or w.lower() in _COLOURS for w in prev):
                continue
            if ctx.vocab.garment_regex.search(text[max(0, m.start() - 30) : m.start()]):
                continue
        yield LintIssue(
            "vague-outfit",
            Severity.WARNING,
            f"'{phrase}' is vague: name the garments with colour and material "
            "(e.g. 'navy blue pantsuit'), or the outfit becomes part of the identity",
            m.start(),
            m.end(),
        )


def too_long(ctx: CaptionContext) -> Iterator[LintIssue]:
    budget = ctx.config.max_words
    if not budget:
        return
    words = list(re.finditer(r"\S+", ctx.text))
    if len(words) <= budget:
        return
    yield LintIssue(
        "too-long",
        Severity.INFO,
        f"{len(words)} words, over the profile's budget of {budget}: keep what varies, drop "
        "the rest",
        words[budget].start(),
        len(ctx.text.rstrip()),
    )


def trigger_duplicate(ctx: CaptionContext) -> Iterator[LintIssue]:
    """The trigger written twice ("l3yla, ..., l3yla smiling"): one mention binds it."""
    spans = ctx.trigger_spans
    if len(spans) < 2:
        return
    trig = ctx.config.trigger
    text = ctx.text
    for start, end in spans[1:]:
        yield LintIssue(
            "trigger-duplicate",
            Severity.WARNING,
            f"the trigger '{trig}' is written {len(spans)} times: once, first, is enough "
            "(a repeated trigger weighs the token differently in this caption)",
            start,
            end,
            removal_fix(text, start, end, f"remove the repeated '{trig}'"),
        )


def multi_line(ctx: CaptionContext) -> Iterator[LintIssue]:
    """Line breaks inside a caption: kohya-style trainers read only the first line,
    ai-toolkit the whole file, so the trainer would not see what the user sees."""
    text = ctx.text
    body = text.rstrip()
    lines = [line for line in body.splitlines() if line.strip()]
    if len(body.splitlines()) < 2:
        return
    first_break = len(body.splitlines()[0])
    yield LintIssue(
        "multi-line",
        Severity.WARNING,
        f"the caption has {len(lines)} lines: kohya-style trainers read only the first, "
        "ai-toolkit reads them all; join them into one line",
        first_break,
        len(body),
        Fix(0, len(text), normalize_caption(text), "join the lines with ', '"),
    )


RULE_FUNCS = [trigger_rules, trigger_duplicate, multi_line, vague_outfit, too_long]
