"""User lexicon files: additions, exceptions, trigger word lists, and clear errors."""

from __future__ import annotations

import pytest

from curation.captions.lint import LintConfig, lint_caption
from curation.captions.trigger import check_trigger
from curation.captions.vocabulary import (
    VocabularyError,
    load_vocabulary,
    user_lexicon_dir,
)


def write_user(text: str, name: str = "mine.yaml"):
    folder = user_lexicon_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr("curation.captions.vocabulary._LAST", {})


def rules_of(text: str, **kw) -> list[tuple[str, str]]:
    config = LintConfig(trigger="l3yla", vocab=load_vocabulary(), **kw)
    return [(i.rule, text[i.start : i.end]) for i in lint_caption(text, config)]


def test_bundled_vocabulary_loads():
    vocab = load_vocabulary()
    assert "eye_colour" in vocab.categories and "woman" in vocab.words
    assert "leyla" in vocab.first_names and "l3yla" not in vocab.words


def test_user_adds_identity_terms_and_vague_outfits():
    text = "l3yla, elfin ears, wearing a comfy fit, smiling"
    assert rules_of(text) == []
    write_user(
        "categories:\n  face_shape:\n    terms: [elfin ears]\n"
        "  tattoo_marks:\n    reason: signature tattoo is identity\n    terms: [rose tattoo]\n"
        "vague_outfits: [comfy fit]\n"
    )
    assert rules_of(text) == [
        ("identity-descriptor", "elfin ears"),
        ("vague-outfit", "comfy fit"),
    ]
    assert rules_of("l3yla, rose tattoo") == [("identity-descriptor", "rose tattoo")]


def test_user_exceptions_silence_a_phrase():
    text = "l3yla, brown eyes contact lenses, smiling"
    assert ("identity-descriptor", "brown eyes") in rules_of(text)
    write_user("exceptions: [brown eyes contact lenses]\n")
    assert rules_of(text) == []


def test_user_words_and_not_words_for_the_trigger():
    assert check_trigger("zorbl", tokenizer_path=False).verdict == "good"
    write_user("words: [zorbl]\nnot_words: [maria]\n")
    assert check_trigger("zorbl", vocab=load_vocabulary(), tokenizer_path=False).verdict == "bad"
    report = check_trigger("maria", vocab=load_vocabulary(), tokenizer_path=False)
    assert report.verdict == "good"


def test_unknown_key_is_an_error_naming_the_file():
    write_user("identiy: [typo]\n", "broken.yaml")
    with pytest.raises(VocabularyError, match="broken.yaml.*unknown key"):
        load_vocabulary()


def test_bad_regex_and_bad_yaml_are_errors():
    write_user("categories:\n  x:\n    patterns: ['(unclosed']\n")
    with pytest.raises(VocabularyError, match="bad identity pattern"):
        load_vocabulary()
    write_user("exceptions: [a, b\n")
    with pytest.raises(VocabularyError, match="cannot read"):
        load_vocabulary()
