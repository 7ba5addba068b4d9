"""Find identity descriptors (eye colour, skin tone, hair, age...) in a caption, with spans."""

from __future__ import annotations

from dataclasses import dataclass

from curation.captions.vocabulary import Vocabulary, load_vocabulary


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
    """
    vocab = vocab or load_vocabulary()
    cats = vocab.category_order
    excepted = [m.span() for m in vocab.exception_regex.finditer(text)]
    blocked = list(allowed) + excepted
    out: list[IdentityMatch] = []
    for m in vocab.identity_regex.finditer(text):
        start, end = m.span()
        if start == end:
            continue
        if any(a <= start and end <= b for a, b in blocked):
            continue
        if any(start < b and a < end and (b - a) >= (end - start) for a, b in excepted):
            continue
        idx = int(m.lastgroup[1:]) if m.lastgroup else 0
        cat = cats[idx]
        out.append(IdentityMatch(start, end, cat.name, cat.reason, text[start:end]))
    return out
