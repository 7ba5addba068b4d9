"""The launch gate: lint errors and identity leaks block, warnings and exclusions do not."""

from __future__ import annotations

from PIL import Image

from curation.gate import check_dataset, check_folder
from curation.workspace import Workspace


def _dataset(root, captions):
    root.mkdir()
    for i, text in enumerate(captions):
        Image.new("RGB", (64, 64), (i * 40 % 255, 90, 60)).save(root / f"img{i}.png")
        (root / f"img{i}.txt").write_text(text, encoding="utf-8")
    return root


VARIED = [
    "l3yla, close-up portrait, smiling, soft light",
    "l3yla, full body, standing in a park, denim jacket",
    "l3yla, medium shot, sitting at a cafe table, looking left",
    "l3yla, profile view, night street, neon light",
]


def test_a_clean_dataset_passes_with_a_note_about_the_missing_verdict(tmp_path):
    result = check_folder(str(_dataset(tmp_path / "d", VARIED)), trigger="l3yla")
    assert result.ok, [r.line() for r in result.reasons]
    assert result.verdict is None and "balance verdict was not checked" in result.notes[0]


def test_identity_leak_blocks_like_an_error_and_names_the_images(tmp_path):
    root = _dataset(tmp_path / "d", [f"l3yla, blue eyes, freckles, {c}" for c in
                                     ("smiling", "standing", "sitting", "walking")])  # fmt: skip
    result = check_folder(str(root), trigger="l3yla")
    assert not result.ok
    leak = [r for r in result.reasons if r.rule == "identity-leak"]
    assert leak and set(leak[0].paths) == {f"img{i}.png" for i in range(4)}
    assert "identity-leak" in leak[0].line()


def test_excluded_images_take_no_part(tmp_path):
    leaking = [
        f"l3yla, blue eyes, freckles, {c}" for c in ("smiling", "standing", "sitting", "walking")
    ]
    root = _dataset(tmp_path / "d", [*leaking, *VARIED[:1]])
    with Workspace.open(str(root)) as ws:
        assert not check_dataset(ws, trigger="l3yla").ok  # 4 of 5 captions (80%) share the fragment
        ws.set_excluded_many(["img0.png", "img1.png"], True)
        result = check_dataset(ws, trigger="l3yla")
        assert result.ok, [r.line() for r in result.reasons]


def test_an_unusable_folder_is_a_reason_not_a_crash(tmp_path):
    result = check_folder(str(tmp_path / "missing"))
    assert not result.ok and result.reasons[0].kind == "dataset"
