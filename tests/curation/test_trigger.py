"""Trigger-token checker: word and name lists, length, tokenizer count, leetspeak suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.captions.trigger import (
    check_trigger,
    count_tokens,
    find_text_encoder_tokenizer,
    leet_variants,
)


def build_byte_level_tokenizer(folder: Path, merges: list[tuple[str, str]]) -> Path:
    """A tiny Qwen-style byte-level BPE tokenizer.json, built offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return path


MERGES = [("Ġ", "o"), ("Ġo", "h"), ("Ġoh", "w"), ("Ġohw", "x"), ("Ġ", "l"), ("3", "y")]


@pytest.fixture
def zimage_tokenizer(tmp_path, monkeypatch) -> Path:
    hub = tmp_path / "hf" / "hub"
    snap = hub / "models--Tongyi-MAI--Z-Image-Turbo" / "snapshots" / "abc123" / "tokenizer"
    path = build_byte_level_tokenizer(snap, MERGES)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return path


@pytest.mark.parametrize(
    ("token", "verdict"),
    [("l3yla", "good"), ("ohwx", "good"), ("m4ria", "good"), ("zk7q", "good")],
)
def test_fresh_tokens_are_good(token, verdict):
    report = check_trigger(token, tokenizer_path=False)
    assert report.verdict == verdict and report.reasons == [] and report.suggestions == []


def test_first_name_is_bad_with_leet_suggestion():
    report = check_trigger("leyla", tokenizer_path=False)
    assert report.verdict == "bad"
    assert any("first name" in r for r in report.reasons)
    assert report.suggestions[0] == "l3yla"


@pytest.mark.parametrize("token", ["photo", "woman", "Anna", "james"])
def test_words_and_names_are_bad(token):
    report = check_trigger(token, tokenizer_path=False)
    assert report.verdict == "bad" and report.suggestions
    assert all(s.lower() != token.lower() for s in report.suggestions)


@pytest.mark.parametrize(("token", "why"), [("zq", "2 characters"), ("qxzvbnrt", "8 char")])
def test_length_outside_4_to_6_is_weak(token, why):
    report = check_trigger(token, tokenizer_path=False)
    assert report.verdict == "weak" and any(why in r for r in report.reasons)


def test_empty_and_spaces():
    assert check_trigger("", tokenizer_path=False).verdict == "bad"
    assert check_trigger("my tok", tokenizer_path=False).verdict == "bad"


def test_leet_variants():
    assert leet_variants("leyla")[0] == "l3yla"
    assert "m4ria" in leet_variants("maria")
    assert leet_variants("xyz") == []


def test_tokenizer_is_found_in_the_hf_cache_and_counts(zimage_tokenizer):
    assert find_text_encoder_tokenizer() == zimage_tokenizer
    assert count_tokens("ohwx", zimage_tokenizer) == 1
    assert count_tokens("zk7q", zimage_tokenizer) == 5
    good = check_trigger("ohwx")
    assert good.verdict == "good" and good.token_count == 1
    weak = check_trigger("zk7q")
    assert weak.verdict == "weak" and weak.token_count == 5
    assert any("5 tokens" in r for r in weak.reasons)


def test_no_tokenizer_means_no_count(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_text_encoder_tokenizer() is None
    assert check_trigger("zk7q").token_count is None


def test_configured_tokenizer_folder(tmp_path, monkeypatch):
    path = build_byte_level_tokenizer(tmp_path / "mytok", MERGES)
    monkeypatch.setenv("LIKENESS_TEXT_TOKENIZER", str(path.parent))
    assert find_text_encoder_tokenizer() == path


def test_report_json():
    data = check_trigger("leyla", tokenizer_path=False).to_dict()
    assert json.loads(json.dumps(data))["verdict"] == "bad"
    assert {"token", "verdict", "reasons", "suggestions"} <= set(data)
