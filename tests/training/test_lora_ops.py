"""scale / merge / resize checked against B @ A computed directly (and its SVD)."""

from __future__ import annotations

import pytest

from tests.training.lora_fixtures import random_lora, small_lora

torch = pytest.importorskip("torch")


def _direct(mod):
    return (mod.up.double() @ mod.down.double()) * mod.scale


def _close(x, y, rel=1e-6):
    return float((x - y).norm()) <= rel * max(float(x.norm()), float(y.norm())) + 1e-12


def test_scale_applies_strength_layer_ranges_components_and_presets():
    from training.lora.ops import scale_lora
    from training.lora.weights import Weights, preset_weights

    lora = small_lora(layers=30, refiners=True, dtype="fp32", scale=0.5)
    weights = preset_weights("soft-layout").then(
        Weights(
            0.8,
            layers=[("0-9", 0.5), ("5", 2.0), ("refiners", 0.0)],
            components=[("adaLN", 0.0), ("attention.to_v", 1.2), ("k", 0.25)],
        )
    )
    out = scale_lora(lora, weights)
    expected = {
        "layers.0.attention.to_q": 0.8 * 0.5 * 0.5,  # preset q=0.5, layers 0-9
        "layers.5.attention.to_k": 0.8 * 2.0 * 0.25,  # the later rule wins in both lists
        "layers.20.attention.to_v": 0.8 * 1.2,
        "layers.29.feed_forward.w2": 0.8,
        "layers.9.attention.to_out.0": 0.8 * 0.5,
    }
    for name, mult in expected.items():
        assert _close(_direct(out.modules[name]), mult * _direct(lora.modules[name])), name
    assert not any("adaLN" in n or "refiner" in n for n in out.modules)
    assert len(out.modules) == 30 * 7
    assert lora.modules["layers.0.attention.to_q"].scale == 0.5  # the input is untouched
    assert weights.unmatched(list(lora.modules)) == []
    assert Weights(components=[("attention.to_z", 0)]).unmatched(list(lora.modules)) == [
        "component attention.to_z"
    ]


def test_weight_rules_reject_typos_with_a_message():
    from training.lora.model import LoraError
    from training.lora.weights import Weights, load_presets, parse_assignment, preset_weights

    assert parse_assignment("0-9=0.5") == ("0-9", 0.5)
    assert parse_assignment("attention.to_v=-1") == ("attention.to_v", -1.0)
    for bad in ("0-9", "=1", "adaLN=x", "adaLN=nan"):
        with pytest.raises(LoraError):
            parse_assignment(bad)
    for bad in ("9-0", "layer5", "foo.1"):
        with pytest.raises(LoraError):
            Weights(layers=[(bad, 1.0)])
    with pytest.raises(LoraError, match="unknown preset"):
        preset_weights("nope")
    presets = load_presets()
    assert {"drop-adaln", "late-layers"} <= set(presets)
    assert presets["late-layers"]["weights"].multiplier("layers.3.attention.to_q") == 0.0
    assert presets["late-layers"]["weights"].multiplier("layers.15.attention.to_q") == 1.0


def test_exact_merge_adds_weighted_deltas_and_ranks():
    from training.lora.ops import MergeInput, merge_loras
    from training.lora.weights import Weights

    a = small_lora(layers=4, dtype="fp32", scale=0.5, seed=1)
    b = small_lora(layers=4, dtype="fp32", rank=4, seed=2)
    del b.modules["layers.3.feed_forward.w1"]  # only in a
    style = Weights(components=[("adaLN", 0.0)])
    merged, fac = merge_loras([MergeInput(a, 0.7), MergeInput(b, 0.6, style)])
    assert fac is None
    for name in ("layers.0.attention.to_q", "layers.2.feed_forward.w2"):
        want = 0.7 * _direct(a.modules[name]) + 0.6 * _direct(b.modules[name])
        assert _close(_direct(merged.modules[name]), want)
        assert merged.modules[name].rank == 12
    name = "layers.1.adaLN_modulation.0"  # b's adaLN weighted 0: only a's
    assert _close(_direct(merged.modules[name]), 0.7 * _direct(a.modules[name]))
    assert merged.modules[name].rank == 8
    name = "layers.3.feed_forward.w1"
    assert _close(_direct(merged.modules[name]), 0.7 * _direct(a.modules[name]))


def _optimal(parts, approx, rank, energy, rel=1e-3):
    """Eckart-Young: ``approx`` (rank <= ``rank``) is a best rank-``rank`` approximation of
    ``delta = sum(up @ down)`` when its error equals the discarded singular values. The squared
    singular values come from the eigenvalues of ``(D Dᵀ)(Uᵀ U)`` (a K x K matrix, not the
    code's QR route); the error from the full matrices."""
    down = torch.cat([d for d, _ in parts], 0)
    up = torch.cat([u for _, u in parts], 1)
    s2 = torch.linalg.eigvals((down @ down.T) @ (up.T @ up)).real.clamp_min(0)
    s2 = s2.sort(descending=True).values
    delta = up @ down
    tail = float(s2[rank:].sum())
    err = float(((delta - approx) ** 2).sum())
    assert err == pytest.approx(tail, rel=rel, abs=1e-9 * float(s2.sum()))
    assert energy == pytest.approx(float(s2[:rank].sum() / s2.sum()), rel=rel)


@pytest.mark.slow
def test_svd_merge_and_resize_are_optimal_at_real_size():
    """Rank-32 modules at Z-Image's real widths (3840 / 10240): the QR + small-SVD route gives
    a best rank-R approximation of the full B @ A (Eckart-Young)."""
    from training.lora.ops import MergeInput, merge_loras, resize_lora

    keep = ("layers.0.attention.to_q", "layers.0.feed_forward.w2")
    a = random_lora(layers=1, seed=3, scale=0.5)
    b = random_lora(layers=1, seed=4)
    a.modules = {n: a.modules[n] for n in keep}
    b.modules = {n: b.modules[n] for n in keep}

    merged, fac = merge_loras([MergeInput(a, 1.0), MergeInput(b, 0.5)], rank=16)
    resized, rfac = resize_lora(a, 8)
    for name in keep:
        ma, mb = a.modules[name], b.modules[name]
        pa = (ma.down.double(), ma.up.double() * ma.scale)
        pb = (mb.down.double(), mb.up.double() * mb.scale * 0.5)
        assert merged.modules[name].rank == 16
        _optimal([pa, pb], _direct(merged.modules[name]), 16, fac.energy[name])
        assert resized.modules[name].rank == 8
        _optimal([pa], _direct(resized.modules[name]), 8, rfac.energy[name])
    assert 0 < rfac.mean < 1


def test_resize_keeps_lower_rank_modules_and_is_exact_at_full_rank():
    from training.lora.ops import resize_lora

    lora = small_lora(layers=2, dtype="fp32", scale=0.25)
    lora.modules["layers.0.attention.to_q"] = small_lora(layers=1, rank=2, dtype="fp32").modules[
        "layers.0.attention.to_q"
    ]
    out, fac = resize_lora(lora, 4)
    assert out.modules["layers.0.attention.to_q"].rank == 2
    assert fac.energy["layers.0.attention.to_q"] == 1.0
    assert {m.rank for n, m in out.modules.items() if n != "layers.0.attention.to_q"} == {4}
    same, fac = resize_lora(lora, 8)  # rank 8 -> 8: unchanged
    assert fac.mean == 1.0
    name = "layers.1.feed_forward.w2"
    assert _close(_direct(same.modules[name]), _direct(lora.modules[name]))


def test_merge_refuses_mismatched_shapes_and_empty_results():
    from training.lora.model import LoraError
    from training.lora.ops import MergeInput, merge_loras, resize_lora, scale_lora
    from training.lora.weights import Weights

    a = small_lora(layers=1)
    b = small_lora(layers=1, dim=64)
    with pytest.raises(LoraError, match="different shapes"):
        merge_loras([MergeInput(a), MergeInput(b)])
    with pytest.raises(LoraError, match="empty"):
        merge_loras([MergeInput(a, 0.0)])
    with pytest.raises(LoraError, match="empty"):
        scale_lora(a, Weights(0.0))
    with pytest.raises(LoraError, match="at least 1"):
        resize_lora(a, 0)
