"""Counts over a dataset's captions that the settings screens show before a change.

``likeness`` and the GUI ask the same questions: how many captions hold the trigger as a
word (what a rename will touch), and how many hold the declared identity line verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def count_token(captions: Iterable[str | None], token: str) -> int:
    """How many captions contain ``token`` as a whole word (case-sensitive, as the lint)."""
    if not token:
        return 0
    rx = re.compile(rf"(?<![\w-]){re.escape(token)}(?![\w-])")
    return sum(1 for text in captions if text and rx.search(text))


def count_verbatim(captions: Iterable[str | None], line: str) -> tuple[int, int]:
    """(captions containing ``line`` word for word, captions with any text)."""
    texts = [t for t in captions if t and t.strip()]
    return (sum(1 for t in texts if line in t) if line else 0), len(texts)
