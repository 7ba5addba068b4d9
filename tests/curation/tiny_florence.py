"""Build a tiny random Florence-2 model folder offline, for tests and the benchmark smoke run.

Everything a real ``florence-community/Florence-2-*`` folder holds is written here by hand:
a byte-level BPE ``BartTokenizer`` (vocab.json + merges.txt written by us) with the 1,000
``<loc_N>`` tokens and the ``<image>`` token, a CLIP-style image processor carrying
``image_seq_length``, a ``post_processor_config``, and a tiny ``Florence2Config`` (DaViT vision
tower + BART text model) with random weights saved by ``save_pretrained`` as safetensors.
The folder then goes through the app's real loading path (``Florence2Captioner``).
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_SIZE = 64
#: total stride of the 4 DaViT stages (4 * 2 * 2 * 2)
_STRIDE = 32
NUM_LOC_TOKENS = 1000
_MERGE_WORDS = (
    "The",
    "the",
    "image",
    "shows",
    "a",
    "young",
    "woman",
    "with",
    "long",
    "dark",
    "hair",
    "and",
    "brown",
    "eyes",
    "She",
    "is",
    "wearing",
    "white",
    "shirt",
    "gold",
    "earrings",
    "in",
    "front",
    "of",
    "wall",
    "standing",
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character table (byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def _vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    vocab: dict[str, int] = {}
    for tok in ("<s>", "<pad>", "</s>", "<unk>"):
        vocab[tok] = len(vocab)
    for ch in _bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    merges: list[str] = []
    # a few real merges so common words become single tokens ("Ġ" is the byte for a space)
    for word in _MERGE_WORDS:
        current = "Ġ" + word[0]
        if current not in vocab:
            merges.append(f"Ġ {word[0]}")
            vocab[current] = len(vocab)
        for ch in word[1:]:
            nxt = current + ch
            if nxt not in vocab:
                merges.append(f"{current} {ch}")
                vocab[nxt] = len(vocab)
            current = nxt
    vocab["<mask>"] = len(vocab)
    return vocab, merges


#: what the tiny model is taught to answer (for any image), so end-to-end tests can check text
TAUGHT = {
    "<MORE_DETAILED_CAPTION>": (
        "The image shows a young woman with long dark hair and brown eyes. She is wearing a "
        "white shirt and gold earrings. She is standing in front of a white wall."
    ),
    "<OD>": "earrings<loc_100><loc_200><loc_300><loc_400>woman<loc_10><loc_20><loc_900><loc_990>",
}


def _teach(model, processor, targets: dict[str, str], max_steps: int = 300) -> float:
    """Overfit the tiny model so it answers ``targets[task]`` for any image (a few seconds)."""
    import torch
    from PIL import Image

    images = [Image.new("RGB", (96, 80), (200, 30, 30)), Image.new("RGB", (50, 90), (20, 90, 200))]
    tasks = list(targets)
    enc = processor(
        text=[t for t in tasks for _ in images],
        images=images * len(tasks),
        return_tensors="pt",
        padding=True,
    )
    lab = processor.tokenizer(
        [targets[t] for t in tasks for _ in images], return_tensors="pt", padding=True
    )
    labels = lab.input_ids.clone()
    labels[lab.attention_mask == 0] = -100
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    try:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        loss = float("inf")
        for _step in range(max_steps):
            out = model(**enc, labels=labels)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            loss = out.loss.item()
            if loss < 0.01:
                break
        model.eval()
    finally:
        torch.set_num_threads(threads)
    return loss


def build_tiny_florence(
    folder: Path, *, image_size: int = IMAGE_SIZE, teach: dict[str, str] | None = None
) -> Path:
    """Write a complete tiny Florence-2 model folder and return it.

    ``teach``: task -> answer to overfit before saving (default: random weights only).
    """
    from transformers import (
        BartConfig,
        BartTokenizer,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok_dir = folder / "_tok_src"
    tok_dir.mkdir(exist_ok=True)
    vocab, merges = _vocab_and_merges()
    (tok_dir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tok_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")

    extra = ["<od>", "</od>", "<ocr>", "</ocr>", "<poly>", "</poly>", "<sep>"]
    extra += [f"<loc_{i}>" for i in range(NUM_LOC_TOKENS)]
    tokenizer = BartTokenizer(
        vocab=str(tok_dir / "vocab.json"),
        merges=str(tok_dir / "merges.txt"),
        extra_special_tokens={"image_token": "<image>"},
    )
    tokenizer.add_tokens(extra, special_tokens=True)

    grid = image_size // _STRIDE
    image_seq_length = grid * grid + 1  # spatial tokens + one temporal-mean token
    image_processor = CLIPImageProcessorPil(
        do_resize=True,
        size={"height": image_size, "width": image_size},
        do_center_crop=False,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        image_seq_length=image_seq_length,
    )
    image_processor.image_seq_length = image_seq_length
    post_cfg = {
        "ocr": {"pattern": r"(.+?)<loc_(\d+)>", "area_threshold": 0.0},
        "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
        "pure_text": {},
        "description_with_bboxes": {},
        "description_with_polygons": {},
        "polygons": {},
        "bboxes": {},
        "description_with_bboxes_or_polygons": {},
    }
    processor = Florence2Processor(
        image_processor=image_processor, tokenizer=tokenizer, post_processor_config=post_cfg
    )
    processor.save_pretrained(folder)

    d_model = 32
    text = BartConfig(
        vocab_size=len(tokenizer),
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
    )
    vision = Florence2VisionConfig(
        depths=[1, 1, 1, 1],
        embed_dim=[8, 16, 16, 32],
        num_heads=[1, 1, 2, 2],
        num_groups=[1, 1, 2, 2],
        window_size=2,
        projection_dim=d_model,
        drop_path_rate=0.0,
    )
    config = Florence2Config(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    import torch

    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(config).eval()
    if teach:
        _teach(model, processor, teach)
    model.save_pretrained(folder, safe_serialization=True)
    for p in tok_dir.iterdir():
        p.unlink()
    tok_dir.rmdir()
    return folder


_BUILT: dict[str, Path] = {}


def tiny_florence_folder(taught: bool = True) -> Path:
    """The tiny model, built once per test process (shared by every test module)."""
    import atexit
    import shutil
    import tempfile

    key = "taught" if taught else "random"
    if key not in _BUILT:
        base = Path(tempfile.mkdtemp(prefix="tiny-florence-"))
        atexit.register(shutil.rmtree, base, True)
        _BUILT[key] = build_tiny_florence(base / key, teach=TAUGHT if taught else None)
    return _BUILT[key]
