"""The caption budget in balance profiles: bundled values, user files, validation."""

from __future__ import annotations

import pytest

from curation.balance.profiles import ProfileError, load_profile, user_profile_dir


def test_bundled_profiles_carry_their_caption_budget():
    assert load_profile("character").captions.max_words == 75
    assert load_profile("face").captions.max_words == 40


def _user_profile(text: str, name: str = "mine"):
    folder = user_profile_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    base = "schema_version: 1\nname: mine\ntiers:\n  close-up: {target: 5}\n"
    path.write_text(base + text, encoding="utf-8")
    return path


def test_user_profile_sets_or_inherits_the_budget():
    _user_profile("captions: {max_words: 30}\n")
    assert load_profile("mine").captions.max_words == 30
    path = _user_profile("")  # no captions section: the default budget
    assert load_profile(path).captions.max_words == 75
    _user_profile("captions: {max_words: 0}\n")  # 0: no budget
    assert load_profile("mine").captions.max_words == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("captions: {max_word: 30}\n", "captions.max_word"),
        ("captions: {max_words: -1}\n", "captions.max_words"),
        ("captions: {max_words: many}\n", "captions.max_words"),
        ("caption: {max_words: 30}\n", "caption:"),
    ],
)
def test_bad_caption_keys_are_errors(text, problem):
    path = _user_profile(text)
    with pytest.raises(ProfileError, match="is invalid") as info:
        load_profile(path)
    assert problem.rstrip(":") in str(info.value)
