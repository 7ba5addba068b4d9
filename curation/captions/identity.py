"""Find identity descriptors (eye colour, skin tone, hair, age...) in a caption, with spans."""

from __future__ import annotations

import re
from dataclasses import dataclass

from curation.captions.vocabulary import Category, Vocabulary, _alternation, load_vocabulary

_TOKEN_RE = re.compile(r"[a-z]+|\d+")
#: characters searched before / after a keyword (longest descriptor seen: ~60)
_BEFORE, _AFTER = 50, 50


def _keyword_regex(vocab: Vocabulary) -> re.Pattern[str] | None:
    """One regex finding any category keyword (None when a category has no keywords)."""
    if "identity_kw" not in vocab.derived:
        keys: set[str] = set()
        rx = None
        if all(k is not None for _, _, k in vocab.category_matchers):
            for _, _, k in vocab.category_matchers:
                keys |= k or frozenset()
            number = "<number>" in keys
            words = _alternation(sorted(keys - {"<number>"}))
            rx = re.compile(rf"(?<![a-z])(?:{words})(?![a-z])" + (r"|\d" if number else ""))
        vocab.derived["identity_kw"] = rx
    return vocab.derived["identity_kw"]


@dataclass(frozen=True)
class IdentityMatch:
    start: int
    end: int
    category: str
    reason: str
    text: str


def find_identity(
    text: str,
    vocab: Vocabulary | None = None,
    *,
    allowed: tuple[tuple[int, int], ...] = (),
) -> list[IdentityMatch]:
    """Identity descriptors in ``text``, skipping exceptions and ``allowed`` spans.

    ``allowed`` holds spans (e.g. the declared identity line) where descriptors are accepted.
    Overlapping matches keep the earliest (then the longest, then the first category).
    """
    vocab = vocab or load_vocabulary()
    lower = text.lower()
    any_kw = _keyword_regex(vocab)
    if any_kw is not None and not any_kw.search(lower):
        return []  # no category's keyword anywhere: nothing to look for (the common case)
    where: dict[str, list[tuple[int, int]]] = {}
    for m in _TOKEN_RE.finditer(lower):
        tok = m.group(0)
        where.setdefault("<number>" if tok.isdigit() else tok, []).append(m.span())
    found: list[tuple[int, int, int, Category]] = []
    n = len(text)
    for order, (cat, rx, keys) in enumerate(vocab.category_matchers):
        if keys is None:
            windows = [(0, n)]
        else:
            spans = sorted(s for k in keys.intersection(where) for s in where[k])
            if not spans:
                continue
            windows = []
            for a, b in spans:  # run the regex only around its keywords
                lo, hi = max(0, a - _BEFORE), min(n, b + _AFTER)
                if windows and lo <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(windows[-1][1], hi))
                else:
                    windows.append((lo, hi))
        for lo, hi in windows:
            for m in rx.finditer(text, lo, hi):
                if m.end() > m.start():
                    found.append((m.start(), -m.end(), order, cat))
    if not found:
        return []
    found.sort(key=lambda f: (f[0], f[1], f[2]))
    excepted = [m.span() for m in vocab.exception_regex.finditer(text)]
    blocked = list(allowed) + excepted
    out: list[IdentityMatch] = []
    last_end = -1
    for start, neg_end, _, cat in found:
        end = -neg_end
        if start < last_end:
            continue
        if any(a <= start and end <= b for a, b in blocked):
            continue
        if any(start < b and a < end and (b - a) >= (end - start) for a, b in excepted):
            continue
        out.append(IdentityMatch(start, end, cat.name, cat.reason, text[start:end]))
        last_end = end
    return out
