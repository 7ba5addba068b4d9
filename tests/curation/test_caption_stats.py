"""Counts the dataset settings show before a trigger rename or an identity-line change."""

from __future__ import annotations

from curation.captions.stats import count_token, count_verbatim

CAPS = [
    "a photo of l3yla, smiling",
    "l3yla's coat, L3yla, park",  # the possessive counts (a rename touches it), L3yla not
    "a photo of l3yla-like figure",  # part of a hyphenated word: not the token
    None,
    "  ",
    "a photo of l3yla, a woman with red hair, beach",
]


def test_count_token_counts_whole_words_case_sensitively() -> None:
    assert count_token(CAPS, "l3yla") == 3
    assert count_token(CAPS, "L3yla") == 1
    assert count_token(CAPS, "") == 0


def test_count_verbatim_counts_captions_with_text() -> None:
    assert count_verbatim(CAPS, "a woman with red hair") == (1, 4)
    assert count_verbatim(CAPS, "") == (0, 4)
