"""Per-caption lint rules: a positive and a negative case for each rule id, spans and fixes."""

from __future__ import annotations

import pytest

from curation.captions.lint import (
    Fix,
    ImageFacts,
    LintConfig,
    Severity,
    apply_fix,
    apply_fixes,
    lint_caption,
    rules,
)

LINE = "a woman with long dark brown wavy hair"


def cfg(**kw) -> LintConfig:
    kw.setdefault("trigger", "l3yla")
    return LintConfig(**kw)


def issues(text, rule=None, facts=None, **kw):
    found = lint_caption(text, cfg(**kw), facts)
    return [i for i in found if rule is None or i.rule == rule]


def spans(text, rule, **kw):
    return [text[i.start : i.end] for i in issues(text, rule, **kw)]


GOOD = "a close-up photo of l3yla, smiling, wearing a navy blue pantsuit, white studio background"


def test_every_rule_id_is_registered():
    assert set(rules()) == {
        "missing-caption",
        "empty-caption",
        "trigger-missing",
        "trigger-not-first",
        "trigger-variant",
        "trigger-duplicate",
        "multi-line",
        "identity-descriptor",
        "identity-line-mismatch",
        "invisible-feature",
        "identity-leak",
        "vague-outfit",
        "too-long",
        "duplicate-caption",
        "untagged-recurring",
    }


def test_a_good_caption_has_no_issue():
    assert issues(GOOD, max_words=40) == []


def test_missing_and_empty_caption():
    (missing,) = issues(None)
    assert (missing.rule, missing.severity, missing.start, missing.end) == (
        "missing-caption",
        Severity.ERROR,
        0,
        0,
    )
    (empty,) = issues("  \n")
    assert empty.rule == "empty-caption" and empty.severity is Severity.ERROR
    assert issues(GOOD, "missing-caption") == issues(GOOD, "empty-caption") == []


def test_trigger_missing_with_insert_fix():
    text = "a photo of a woman, smiling"
    (issue,) = issues(text, "trigger-missing")
    assert issue.severity is Severity.ERROR
    assert apply_fix(text, issue.fix) == "a photo of l3yla, a woman, smiling"
    assert issues(GOOD, "trigger-missing") == []


@pytest.mark.parametrize(
    "text",
    [
        "l3yla, smiling",
        "a close-up portrait photo of l3yla, smiling",
        "photo of l3yla smiling",
        "a medium shot photo of l3yla, smiling",
        "a full-body photo of l3yla",
        "close-up, l3yla, smiling",
        "upper body, l3yla, smiling",
    ],
)
def test_trigger_first_after_a_shot_prefix_is_fine(text):
    assert issues(text, "trigger-not-first") == []


def test_trigger_not_first_moves_it_to_the_front():
    text = "a photo of a woman, l3yla, smiling"
    (issue,) = issues(text, "trigger-not-first")
    assert text[issue.start : issue.end] == "l3yla"
    assert (issue.fix.start, issue.fix.end) == (0, len(text))
    assert apply_fix(text, issue.fix) == "a photo of l3yla, a woman, smiling"
    assert apply_fix("smiling, l3yla", issues("smiling, l3yla", "trigger-not-first")[0].fix) == (
        "l3yla, smiling"
    )


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("L3yla, smiling", "L3yla"),
        ("l3yla's photo, smiling", "l3yla's"),
        ("l3ylla, smiling", "l3ylla"),
        ("leyla, smiling", "leyla"),
        ("l3yIa, smiling", "l3yIa"),
    ],
)
def test_trigger_variants(text, variant):
    (issue,) = issues(text, "trigger-variant")
    assert text[issue.start : issue.end] == variant
    assert issue.fix.replacement == "l3yla"
    # a variant is not also reported as a missing trigger
    assert issues(text, "trigger-missing") == []


def test_words_near_but_not_the_trigger_are_not_variants():
    assert issues("l3yla, layer, lilac dress, style, play", "trigger-variant") == []
    assert issues("ohwx, oh wow, owl", "trigger-variant", trigger="ohwx") == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("l3yla, brown eyes, smiling", "brown eyes"),
        ("l3yla, her eyes are brown, smiling", "her eyes are brown"),
        ("l3yla with blue eyes, smiling", "blue eyes"),
        ("l3yla, olive-skinned, smiling", "olive-skinned"),
        ("l3yla, a Japanese woman, smiling", "Japanese"),
        ("l3yla, round face, smiling", "round face"),
        ("l3yla, high cheekbones, smiling", "high cheekbones"),
        ("l3yla, sharp jawline, smiling", "sharp jawline"),
        ("l3yla, small nose, smiling", "small nose"),
        ("l3yla, full lips, smiling", "full lips"),
        ("l3yla, thick eyebrows, smiling", "thick eyebrows"),
        ("l3yla, freckles, smiling", "freckles"),
        ("l3yla, a mole under her left eye", "mole under her left eye"),
        ("l3yla, athletic build, smiling", "athletic build"),
        ("l3yla, a young woman, smiling", "young"),
        ("l3yla, a black woman, smiling", "black"),
        ("l3yla, a man in his 40s, smiling", "in his 40s"),
        ("l3yla, long blonde hair, smiling", "long blonde hair"),
    ],
)
def test_identity_descriptors(text, phrase):
    found = spans(text, "identity-descriptor")
    assert found == [phrase]


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "l3yla, eyes closed, light brown background",
        "l3yla, hair in a ponytail, wearing a thin gold necklace",
        "l3yla, in an indian restaurant, red lipstick",
        "l3yla, wearing a nose ring, dark background",
        "l3yla, white shirt, black jeans, brown boots, standing next to a man",
    ],
)
def test_no_identity_descriptor_false_positives(text):
    assert issues(text, "identity-descriptor") == []


def test_hair_is_allowed_inside_the_identity_line_only():
    text = f"l3yla, {LINE}, smiling, short red hair"
    assert spans(text, "identity-descriptor", identity_line=LINE) == ["short red hair"]
    assert spans(text, "identity-descriptor") == ["long dark brown wavy hair", "short red hair"]


def test_identity_descriptor_fix_removes_the_fragment_cleanly():
    text = "l3yla, brown eyes, smiling"
    (issue,) = issues(text, "identity-descriptor")
    assert apply_fix(text, issue.fix) == "l3yla, smiling"
    text = "l3yla with blue eyes and freckles, smiling"
    fixes = [i.fix for i in issues(text, "identity-descriptor")]
    assert apply_fixes(text, fixes) == "l3yla, smiling"


def test_identity_line_mismatch():
    text = "l3yla, a woman with long brown wavy hair, smiling"
    (issue,) = issues(text, "identity-line-mismatch", identity_line=LINE)
    assert text[issue.start : issue.end] == "a woman with long brown wavy hair"
    assert apply_fix(text, issue.fix) == f"l3yla, {LINE}, smiling"
    assert issues(f"l3yla, {LINE}, smiling", "identity-line-mismatch", identity_line=LINE) == []
    # no line declared, or nothing resembling it: not a mismatch
    assert issues(text, "identity-line-mismatch") == []
    assert issues(GOOD, "identity-line-mismatch", identity_line=LINE) == []


def test_invisible_feature_uses_face_analysis_facts():
    text = "l3yla, hazel eyes, gold earrings, smiling, standing"
    assert issues(text, "invisible-feature") == []
    back = issues(text, "invisible-feature", facts=ImageFacts(back_view=True))
    assert [text[i.start : i.end] for i in back] == ["hazel eyes", "gold earrings", "smiling"]
    profile = issues(text, "invisible-feature", facts=ImageFacts(pose="profile"))
    assert [text[i.start : i.end] for i in profile] == ["hazel eyes"]
    frontal = issues(text, "invisible-feature", facts=ImageFacts(pose="frontal", tier="medium"))
    assert frontal == []


def test_invisible_feature_from_the_caption_text_without_facts():
    text = "l3yla seen from behind, blue eyes, walking"
    (issue,) = issues(text, "invisible-feature")
    assert text[issue.start : issue.end] == "blue eyes"
    assert apply_fix(text, issue.fix) == "l3yla seen from behind, walking"


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("l3yla, wearing a casual outfit", "casual outfit"),
        ("l3yla, in casual clothes, park", "casual clothes"),
        ("l3yla, wearing clothes, park", "clothes"),
        ("l3yla, formal attire", "formal attire"),
    ],
)
def test_vague_outfit(text, phrase):
    (issue,) = issues(text, "vague-outfit")
    assert text[issue.start : issue.end] == phrase and issue.fix is None


@pytest.mark.parametrize(
    "text",
    [GOOD, "l3yla, wearing a navy blue outfit", "l3yla, wearing a black leather outfit"],
)
def test_concrete_outfits_are_not_vague(text):
    assert issues(text, "vague-outfit") == []


def test_too_long_uses_the_budget():
    text = "l3yla, " + ", ".join(f"word{i}" for i in range(30))
    (issue,) = issues(text, "too-long", max_words=20)
    assert issue.severity is Severity.INFO
    assert text[issue.start :].startswith("word19")
    assert issues(text, "too-long", max_words=40) == []
    assert issues(text, "too-long") == []  # no budget, no rule


def test_disabled_rules_are_skipped():
    text = "a photo of a woman, brown eyes"
    found = issues(text, disabled=frozenset({"identity-descriptor", "trigger-missing"}))
    assert found == []


def test_issue_json_shape():
    (issue,) = issues("l3yla, brown eyes", "identity-descriptor")
    data = issue.to_dict()
    assert set(data) == {"rule", "severity", "message", "start", "end", "fix"}
    assert data["severity"] == "warning" and set(data["fix"]) == {
        "start",
        "end",
        "replacement",
        "label",
    }


def test_apply_fixes_merges_overlaps_and_skips_rewrites():
    text = "abc def ghi"
    assert apply_fixes(text, [Fix(0, 4, ""), Fix(2, 8, "")]) == "ghi"
    assert apply_fixes(text, [Fix(0, len(text), "new"), Fix(4, 8, "")]) == "abc ghi"
    assert apply_fixes(text, [Fix(0, len(text), "new")]) == "new"
