"""Identity stripper / formatter on realistic Florence-2 prose, tag lists and human captions.

Expected lines were reviewed by hand; hair decision: colour/length/texture are removed (they
belong in the identity line), styling that varies (ponytail, bun, braid, hair down) is kept.
"""

from __future__ import annotations

import time

import pytest

from curation.captions import clean_caption
from curation.captions.formatter import CaptionFormatError

# (input, shot, identity line, expected structured line)
CASES = [
    (
        "The image shows a young woman with long dark hair and brown eyes. She is wearing a white button-up shirt and gold earrings. She is standing with her arms crossed in front of a white wall. The overall mood of the image is calm.",
        "medium",
        None,
        "a medium shot photo of l3yla, standing with arms crossed, wearing a white button-up shirt, gold earrings, in front of a white wall",
    ),
    (
        "The image is a close-up portrait of a young woman with shoulder-length blonde hair and blue eyes. She is smiling at the camera and has a small nose ring. The background is blurred.",
        "close-up",
        None,
        "a close-up photo of l3yla, smiling at the camera, wearing a small nose ring, blurred background",
    ),
    (
        "The image shows a woman sitting at a wooden table in a cafe. She has long blonde hair that falls over her shoulders and is wearing a black leather jacket over a grey t-shirt. She is holding a cup of coffee and looking out the window. The lighting is soft and natural.",
        None,
        None,
        "a photo of l3yla, sitting at a wooden table, holding a cup of coffee, looking out the window, wearing a black leather jacket over a grey t-shirt, in a cafe, soft and natural lighting",
    ),
    (
        "The image shows a middle-aged man with short grey hair and a beard. He is wearing a navy blue suit with a white shirt and a red tie. He is standing in an office with large windows behind him. He has a serious expression on his face.",
        "medium",
        None,
        "a medium shot photo of l3yla, standing, a serious expression, wearing a navy blue suit and a white shirt, a red tie, a beard, in an office, large windows in the background",
    ),
    (
        "The image shows a young Asian woman with long black hair tied back in a ponytail. She is wearing a red sweater and jeans. She is walking down a city street at night, with neon lights in the background.",
        "full-body",
        None,
        "a full-body photo of l3yla, hair tied back in a ponytail, walking down a city street at night, wearing a red sweater and jeans, neon lights in the background",
    ),
    (
        "In this image we can see a woman. She is wearing a blue dress. She is smiling. In the background there are trees.",
        None,
        None,
        "a photo of l3yla, smiling, wearing a blue dress, trees in the background",
    ),
    (
        "The image shows a woman from behind with her long brown hair in a braid. She is wearing a green jacket and a backpack. She is walking on a forest path.",
        "full-body",
        None,
        "a full-body photo of l3yla, hair in a braid, from behind, walking, wearing a green jacket, a backpack, on a forest path",
    ),
    (
        "The image is a black and white photograph of a woman with freckles and curly red hair. She is looking down with a sad expression. She is wearing a striped shirt.",
        "close-up",
        None,
        "a close-up photo of l3yla, looking down, a sad expression, wearing a striped shirt",
    ),
    (
        "A woman in her 30s with olive skin and dark brown eyes is sitting on a couch, laughing. She is wearing a cream knitted sweater and silver hoop earrings. The room behind her has bookshelves.",
        "medium",
        None,
        "a medium shot photo of l3yla, sitting on a couch, laughing, wearing a cream knitted sweater, silver hoop earrings, the room in the background has bookshelves",
    ),
    (
        "The image shows a slim young woman with long wavy brown hair. She is wearing a yellow sundress and white sneakers. She is standing on a beach with the ocean behind her. The sky is clear and blue.",
        "full-body",
        None,
        "a full-body photo of l3yla, standing, wearing a yellow sundress and white sneakers, on a beach, the ocean in the background, the sky is clear and blue",
    ),
    (
        "The image shows a woman with high cheekbones, full lips and almond-shaped eyes. She has a neutral expression and is wearing round glasses and a black turtleneck. The background is a plain grey wall.",
        "close-up",
        None,
        "a close-up photo of l3yla, a neutral expression, wearing a black turtleneck, round glasses, plain grey wall background",
    ),
    (
        "A woman with long brown hair wearing a white shirt.",
        None,
        None,
        "a photo of l3yla, wearing a white shirt",
    ),
    (
        "a young woman in a red dress standing in a field of flowers",
        "full-body",
        None,
        "a full-body photo of l3yla, standing, wearing a red dress, in a field of flowers",
    ),
    (
        "In this image we can see a woman holding a book. In the background we can see the wall.",
        None,
        None,
        "a photo of l3yla, holding a book, the wall in the background",
    ),
    (
        "a man with a beard wearing a hat and sunglasses",
        None,
        None,
        "a photo of l3yla, wearing a hat and sunglasses, a beard",
    ),
    (
        "1girl, solo, brown eyes, long hair, white shirt, earrings, smile, simple background",
        None,
        None,
        "a photo of l3yla, smile, wearing white shirt, earrings, simple background",
    ),
    (
        "1girl, solo, blonde hair, blue eyes, medium breasts, black dress, sitting, looking at viewer, indoors, window",
        "medium",
        None,
        "a medium shot photo of l3yla, sitting, looking at viewer, wearing black dress, indoors, window",
    ),
    (
        "1boy, solo, short hair, black hair, dark skin, muscular, tank top, arms crossed, gym, serious",
        "medium",
        None,
        "a medium shot photo of l3yla, arms crossed, serious, wearing tank top, gym",
    ),
    (
        "woman, portrait, freckles, green eyes, red hair, hoodie, smiling, outdoors, sunlight",
        "close-up",
        None,
        "a close-up photo of l3yla, smiling, wearing hoodie, outdoors, sunlight",
    ),
    (
        "upper body, 1girl, asian, ponytail, school uniform, red ribbon, classroom, open mouth",
        "medium",
        None,
        "a medium shot photo of l3yla, ponytail, open mouth, wearing school uniform, red ribbon, classroom",
    ),
    (
        "l3yla, a woman with long dark brown wavy hair and deep brown eyes, arms crossed, neutral serious expression, wearing a white button-up collared shirt, gold teardrop earrings, white studio background",
        "medium",
        "a woman with long dark brown wavy hair and deep brown eyes",
        "a medium shot photo of l3yla, a woman with long dark brown wavy hair and deep brown eyes, arms crossed, neutral serious expression, wearing a white button-up collared shirt, gold teardrop earrings, white studio background",
    ),
    (
        "photo of l3yla smiling, wearing a navy blue pantsuit, city street",
        None,
        None,
        "a photo of l3yla, smiling, wearing a navy blue pantsuit, city street",
    ),
    (
        "l3yla, a slim 25-year-old latina woman, laughing, wearing a green bikini, on a beach",
        "full-body",
        None,
        "a full-body photo of l3yla, laughing, wearing a green bikini, on a beach",
    ),
    (
        "a close-up photo of l3yla, her eyes are brown, soft smile, wearing a black choker",
        "close-up",
        None,
        "a close-up photo of l3yla, soft smile, wearing a black choker",
    ),
    (
        "l3yla sitting cross-legged on the floor, hair in a messy bun, reading a book, cozy living room",
        "full-body",
        None,
        "a full-body photo of l3yla, hair in a messy bun, sitting cross-legged on the floor, reading a book, cozy living room",
    ),
    (
        "L3yla, an olive-skinned woman with a round face, contemplative expression, looking out a window",
        "close-up",
        None,
        "a close-up photo of l3yla, looking out a window, contemplative expression",
    ),
    (
        "l3yla, a man in his 30s, wearing a grey hoodie and black joggers, leaning against a brick wall",
        "full-body",
        None,
        "a full-body photo of l3yla, leaning, wearing a grey hoodie and black joggers, against a brick wall",
    ),
    (
        "l3yla, freckled, wearing a straw hat, sunflower field, golden hour lighting",
        "medium",
        None,
        "a medium shot photo of l3yla, wearing a straw hat, sunflower field, golden hour lighting",
    ),
    (
        "l3yla, slightly turned, looking over her shoulder, hair down, wearing a red evening gown, ballroom",
        "medium",
        None,
        "a medium shot photo of l3yla, hair down, slightly turned, looking over shoulder, wearing a red evening gown, ballroom",
    ),
    (
        "l3yla, head tipped back, looking up, eyes closed, wearing a white tank top, blue sky background",
        "close-up",
        None,
        "a close-up photo of l3yla, head tipped back, looking up, eyes closed, wearing a white tank top, blue sky background",
    ),
    (
        "a medium shot photo of l3yla, a woman with long hair, standing, wearing a black blazer, office",
        "medium",
        "a woman with long hair",
        "a medium shot photo of l3yla, a woman with long hair, standing, wearing a black blazer, office",
    ),
    (
        "l3yla, her hair is long and wavy, smiling, wearing a denim jacket",
        None,
        None,
        "a photo of l3yla, smiling, wearing a denim jacket",
    ),
    (
        "l3yla with short pixie-cut blonde hair, serious, wearing a leather jacket, rainy street at night",
        "medium",
        None,
        "a medium shot photo of l3yla, serious, wearing a leather jacket, rainy street at night",
    ),
    (
        "The image shows a tall athletic man with a chiseled jawline and tanned skin. He is wearing a white t-shirt and blue jeans. He is leaning against a car.",
        "full-body",
        None,
        "a full-body photo of l3yla, leaning, wearing a white t-shirt and blue jeans, against a car",
    ),
    ("", None, None, "a photo of l3yla"),
    (
        "The image shows a young woman standing in front of a window with sheer white curtains. She is wearing a light blue off-the-shoulder top and has long, wavy brown hair that falls over her shoulders. She has a serious expression on her face and is looking directly at the camera. The background is blurred, making the woman the focal point of the image.",
        None,
        None,
        "a photo of l3yla, standing, looking directly at the camera, a serious expression, wearing a light blue off-the-shoulder top, in front of a window, sheer white curtains, blurred background",
    ),
    (
        "The image is a close-up of a woman's face. She has short, curly black hair and is wearing a pair of large, round earrings. Her eyes are closed and her lips are slightly parted. The background is dark, making her face stand out.",
        "close-up",
        None,
        "a close-up photo of l3yla, eyes closed, wearing a pair of large round earrings, lips slightly parted, dark background",
    ),
    (
        "In this image we can see a woman standing and smiling. She is wearing a jacket. In the background we can see buildings, trees and the sky.",
        None,
        None,
        "a photo of l3yla, standing, smiling, wearing a jacket, buildings in the background, trees and the sky",
    ),
    (
        "A woman with red hair sitting on a rock by the ocean.",
        "full-body",
        None,
        "a full-body photo of l3yla, sitting, on a rock, by the ocean",
    ),
    (
        "The image shows a beautiful young woman with a bright smile, posing for the camera in a park. She has light skin, long straight black hair, and dark eyes. She wears a pink floral dress with a brown belt.",
        "medium",
        None,
        "a medium shot photo of l3yla, posing for the camera, a bright smile, wearing a pink floral dress, a brown belt, in a park",
    ),
    (
        "The image features a woman in a black dress, holding a glass of wine at a party. The woman appears to be in her late twenties, with shoulder-length auburn hair styled in loose curls.",
        "medium",
        None,
        "a medium shot photo of l3yla, hair styled in loose curls, holding a glass of wine at a party, wearing a black dress",
    ),
]


# the same with another trigger: (input, shot, identity line, expected, trigger)
OTHER_TRIGGER = [
    (
        "ohwx woman, brunette, 28 years old, wearing a yellow raincoat, holding an umbrella, rainy city street, overcast",
        None,
        None,
        "a photo of ohwx, wearing a yellow raincoat, holding an umbrella, overcast, rainy city street",
        "ohwx",
    ),
    (
        "portrait of ohwx, smiling softly, her blue eyes sparkling, wearing a knitted beanie and a scarf, snowy forest",
        "close-up",
        None,
        "a close-up photo of ohwx, smiling softly, wearing a knitted beanie and a scarf, snowy forest",
        "ohwx",
    ),
    (
        "The image shows a young man with short dark hair and a beard, wearing a grey hoodie. He is sitting at a desk in front of a computer monitor, typing on a keyboard. The room is dimly lit.",
        "medium",
        None,
        "a medium shot photo of l3yla, sitting at a desk, typing on a keyboard, wearing a grey hoodie, a beard, in front of a computer monitor, the room is dimly lit",
        "l3yla",
    ),
    (
        "A close up of a woman with green eyes and freckles wearing a red beanie.",
        "close-up",
        None,
        "a close-up photo of l3yla, wearing a red beanie",
        "l3yla",
    ),
    (
        "The image shows a woman lying on a bed with white sheets. She has long blonde hair spread out on the pillow and is wearing a white lace nightgown. Her eyes are closed and she appears to be sleeping.",
        "full-body",
        None,
        "a full-body photo of l3yla, lying on a bed, eyes closed, wearing a white lace nightgown, white sheets, sleeping",
        "l3yla",
    ),
    (
        "ohwx, full body, standing, hands on hips, wearing a black crop top and high-waisted jeans, white sneakers, graffiti wall background",
        "full-body",
        None,
        "a full-body photo of ohwx, standing, hands on hips, wearing a black crop top, high-waisted jeans and white sneakers, graffiti wall background",
        "ohwx",
    ),
]


@pytest.mark.parametrize(("text", "shot", "identity_line", "expected"), CASES)
def test_realistic_captions(text, shot, identity_line, expected):
    result = clean_caption(text, "l3yla", shot=shot, identity_line=identity_line)
    assert result.text == expected


@pytest.mark.parametrize(("text", "shot", "identity_line", "expected", "trigger"), OTHER_TRIGGER)
def test_realistic_captions_other_trigger(text, shot, identity_line, expected, trigger):
    assert clean_caption(text, trigger, shot=shot, identity_line=identity_line).text == expected


FLORENCE = (
    "The image shows a young woman with long dark hair and brown eyes. She is wearing a white "
    "button-up shirt and gold earrings. She is standing with her arms crossed in front of a "
    "white wall. The overall mood of the image is calm."
)


def test_florence_example_explains_every_removal():
    result = clean_caption(FLORENCE, "l3yla", shot="medium")
    assert result.text == (
        "a medium shot photo of l3yla, standing with arms crossed, wearing a white button-up "
        "shirt, gold earrings, in front of a white wall"
    )
    removed = {r.phrase: r.reason for r in result.removed}
    assert removed["The image shows"].startswith("boilerplate")
    assert removed["young"] == "age is identity"
    assert removed["long dark hair"].startswith("hair colour")
    assert removed["brown eyes"].startswith("eye colour")
    assert removed["a woman"].startswith("subject")
    assert removed["The overall mood of the image is calm"].startswith("mood")
    assert result.slots["pose"] == ["standing with arms crossed"]
    assert result.slots["outfit"] == ["a white button-up shirt"]
    assert result.slots["accessories"] == ["gold earrings"]
    assert result.to_dict()["removed"][0] == {
        "phrase": "The image shows",
        "reason": "boilerplate: the captioner's framing, not content",
    }


@pytest.mark.parametrize(
    ("text", "gone", "reason_start"),
    [
        ("l3yla, a man in his 30s, smiling", "in his 30s", "age"),
        ("l3yla, her eyes are brown, smiling", "her eyes are brown", "eye colour"),
        ("l3yla, an olive-skinned woman, smiling", "olive-skinned", "skin tone"),
        ("l3yla, freckled, smiling", "freckled", "freckles"),
        ("l3yla, a slim woman, smiling", "slim", "body type"),
        ("l3yla, with blue eyes, smiling", "blue eyes", "eye colour"),
        ("l3yla, a Korean woman, smiling", "Korean", "ethnicity"),
        ("l3yla, high cheekbones, smiling", "high cheekbones", "face shape"),
        ("l3yla, a 40-year-old man, smiling", "40-year-old", "age"),
        ("l3yla, elderly woman, smiling", "elderly", "age"),
    ],
)
def test_tricky_identity_forms_are_removed(text, gone, reason_start):
    result = clean_caption(text, "l3yla")
    assert result.text == "a photo of l3yla, smiling"
    assert any(r.phrase == gone and r.reason.startswith(reason_start) for r in result.removed)


def test_hair_styling_is_kept_but_hair_colour_is_not():
    result = clean_caption("l3yla, long blonde hair in a high ponytail, smiling", "l3yla")
    assert "ponytail" in result.text and "blonde" not in result.text
    assert result.slots["hair"] == ["hair in a high ponytail"]
    plain = clean_caption("l3yla, long blonde hair, smiling", "l3yla")
    assert plain.text == "a photo of l3yla, smiling"


def test_identity_line_is_kept_verbatim_and_descriptors_elsewhere_removed():
    line = "a woman with long dark brown wavy hair and deep brown eyes"
    text = f"l3yla, {line}, green eyes, smiling, wearing a red coat"
    result = clean_caption(text, "l3yla", identity_line=line)
    assert result.text == f"a photo of l3yla, {line}, smiling, wearing a red coat"
    # the line is added even when the input lacked it
    assert clean_caption("l3yla, smiling", "l3yla", identity_line=line).text.startswith(
        f"a photo of l3yla, {line}, "
    )


@pytest.mark.parametrize(
    ("shot", "prefix"),
    [
        (None, "a photo of"),
        ("close-up", "a close-up photo of"),
        ("close_up", "a close-up photo of"),
        ("medium", "a medium shot photo of"),
        ("full-body", "a full-body photo of"),
        ("full_body", "a full-body photo of"),
    ],
)
def test_shot_prefix(shot, prefix):
    assert clean_caption("smiling", "ohwx", shot=shot).text == f"{prefix} ohwx, smiling"


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(CaptionFormatError, match="unknown shot tier"):
        clean_caption("smiling", "l3yla", shot="wide")
    with pytest.raises(CaptionFormatError, match="trigger"):
        clean_caption("smiling", "  ")


def test_trigger_in_input_is_moved_first_and_not_duplicated():
    result = clean_caption("a woman smiling, l3yla, wearing a red coat", "l3yla")
    assert result.text == "a photo of l3yla, smiling, wearing a red coat"
    assert result.text.count("l3yla") == 1


def test_deterministic_and_duplicates_reported():
    text = "l3yla, smiling, smiling, wearing a red coat"
    first = clean_caption(text, "l3yla")
    assert (
        first.text
        == clean_caption(text, "l3yla").text
        == ("a photo of l3yla, smiling, wearing a red coat")
    )
    assert any(r.reason.startswith("duplicate") for r in first.removed)


def test_user_lexicon_extends_the_stripper(tmp_path, monkeypatch):
    from curation.captions.vocabulary import user_lexicon_dir

    folder = user_lexicon_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.yaml").write_text(
        "categories:\n  face_shape:\n    terms: [button chin]\n", encoding="utf-8"
    )
    monkeypatch.setattr("curation.captions.vocabulary._LAST", {})
    result = clean_caption("l3yla, button chin, smiling", "l3yla")
    assert result.text == "a photo of l3yla, smiling"


def test_throughput_at_least_1000_captions_per_second():
    texts = [FLORENCE, CASES[2][0], CASES[15][0], CASES[20][0]] * 250
    clean_caption(FLORENCE, "l3yla")  # warm the compiled regexes
    start = time.process_time()
    for text in texts:
        clean_caption(text, "l3yla", shot="medium")
    elapsed = time.process_time() - start
    # >= 1,000/s is the goal (see docs/benchmarks.md); CPU time, slack for shared CI
    assert len(texts) / elapsed >= 500, f"{len(texts) / elapsed:.0f} captions/s"
