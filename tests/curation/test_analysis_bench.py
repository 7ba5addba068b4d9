"""The benchmark script still runs end to end (tiny size) and reports consistent numbers."""

from __future__ import annotations

import json

from bench.analyze import main


def test_bench_smoke(capsys, yunet_model):
    assert main(["--images", "3", "--repeats", "1", "--backends", "yunet", "--json",
                 "--model-dir", str(yunet_model.parent)]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    row = data["results"][0]
    assert row["backend"] == "yunet" and row["images"] == 3
    assert row["pipeline_ms"] > 0 and row["detect_ms"] > 0 and row["overhead"] > 0
    assert row["idle_images_per_s_lower_bound"] > 0
