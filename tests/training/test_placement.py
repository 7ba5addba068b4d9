"""``model.offload_text_encoder`` / ``model.offload_vae``: where the text encoder and the VAE
run. The decision is tested with a fake CUDA device (these machines have no GPU); the moves
of the VAE around a preview decode with a recording stand-in; a real CPU run reports where
each component ran in ``status`` events (tests/training/test_runner.py)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _cfg(**model):
    from training.config import RunConfig

    data = {"name": "p", "trigger": "t0ken", "datasets": [{"folder": "/nowhere"}]}
    sample = model.pop("sample", True)
    data["model"] = model
    data["sample"] = {"enabled": sample}
    return RunConfig.model_validate(data)


GPU = torch.device("cuda", 0)  # only a name here: nothing is allocated on it


@pytest.mark.parametrize(
    ("te_off", "nf4", "expected_te"),
    [(True, False, "cpu"), (False, False, "cuda:0"), (True, True, "cuda:0")],
)
def test_text_encoder_runs_on_the_cpu_when_offloaded_unless_nf4(te_off, nf4, expected_te):
    from training.placement import plan_placement

    cfg = _cfg(offload_text_encoder=te_off, quantize_text_encoder="nf4" if nf4 else "none")
    plan = plan_placement(cfg, GPU, text_encoder_nf4=nf4)
    assert plan.text_encoder == expected_te
    assert plan.vae_cache == "cuda:0"  # before the transformer is loaded: alone on the GPU


@pytest.mark.parametrize(
    ("vae_off", "sample", "idle", "moves"),
    [(True, True, "cpu", True), (False, True, "cuda:0", False), (False, False, "cpu", False)],
)
def test_vae_waits_on_the_cpu_and_visits_the_gpu_only_to_decode(vae_off, sample, idle, moves):
    from training.placement import plan_placement

    plan = plan_placement(_cfg(offload_vae=vae_off, sample=sample), GPU, text_encoder_nf4=False)
    assert plan.vae_idle == idle
    if sample:
        assert plan.vae_decode == "cuda:0"
        assert plan.vae_moves_for_decode is moves


def test_everything_runs_on_the_cpu_without_a_gpu():
    from training.placement import Placement, plan_placement

    plan = plan_placement(
        _cfg(offload_vae=False, offload_text_encoder=False), "cpu", text_encoder_nf4=False
    )
    assert plan == Placement("cpu", "cpu", "cpu", "cpu")


class _RecordingVAE(torch.nn.Module):
    """Stands in for the VAE: records every move and the device of each decode, without
    really leaving the CPU (``to`` is intercepted)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.where = "cpu"
        self.moves: list[str] = []
        self.decoded_on: list[str] = []
        self.config = type("C", (), {"scaling_factor": 0.5, "shift_factor": 0.1})()

    def to(self, device, *args, **kwargs):  # noqa: D401 - torch signature
        if isinstance(device, torch.dtype):
            return self
        self.where = str(torch.device(device))
        self.moves.append(self.where)
        return self

    def decode(self, latents, return_dict=False):
        self.decoded_on.append(self.where)
        return (torch.zeros(1, 3, 8, 8),)


def test_decode_moves_the_vae_to_the_device_only_for_the_decode_and_back():
    from diffusers.image_processor import VaeImageProcessor

    from training.sampling import _decode

    vae = _RecordingVAE()
    pipe = type("P", (), {"image_processor": VaeImageProcessor(vae_scale_factor=16)})()
    original = torch.Tensor.to
    try:  # latents are moved to the fake GPU too: keep them on the CPU
        torch.Tensor.to = lambda self, *a, **k: self
        image, where = _decode(pipe, vae, torch.zeros(1, 4, 2, 2), GPU, torch.device("cpu"))
    finally:
        torch.Tensor.to = original
    assert vae.decoded_on == ["cuda:0"]
    assert vae.moves == ["cuda:0", "cpu"]  # there for the decode, then home again
    assert image.size == (8, 8)


def test_decode_puts_the_vae_back_even_when_the_decode_fails():
    from training.sampling import _decode

    vae = _RecordingVAE()
    vae.decode = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))
    original = torch.Tensor.to
    try:
        torch.Tensor.to = lambda self, *a, **k: self
        with pytest.raises(RuntimeError):
            _decode(object(), vae, torch.zeros(1, 4, 2, 2), GPU, torch.device("cpu"))
    finally:
        torch.Tensor.to = original
    assert vae.moves[-1] == "cpu"
