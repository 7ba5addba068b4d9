"""Reading the last face analysis back from the workspace cache (no detection), and the lint
facts built from it: ``invisible-feature`` on a profile view only when the analysis says so."""

from __future__ import annotations

import os
import shutil

import pytest

from curation.analysis import analyze_dataset
from curation.analysis.cached import cached_analysis
from curation.captions.facts import lint_facts
from curation.captions.lint import LintConfig, lint_dataset
from curation.workspace import Workspace

CAPTION = "a photo of l3yla, brown eyes, holding a camera, outdoors"


@pytest.fixture
def dataset(tmp_path, faces_dir):
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("camera.png", "astronaut.png"):
        shutil.copy(faces_dir / "scikit-image" / name, root / name)
        (root / name).with_suffix(".txt").write_text(CAPTION, encoding="utf-8")
    return root


def _invisible(ws) -> set[str]:
    captions = {i.rel: ws.caption(i.rel) for i in ws.items}
    report = lint_dataset(captions, LintConfig(trigger="l3yla"), lint_facts(ws))
    return {path for path, _ in report.issues("invisible-feature")}


def test_no_cache_means_no_analysis_and_the_lint_still_works(dataset):
    with Workspace.open(dataset) as ws:
        assert cached_analysis(ws) is None
        facts = lint_facts(ws)
        assert all(f.pose is None and f.tier is None for f in facts.values())
        assert _invisible(ws) == set()


def test_cached_yunet_analysis_feeds_invisible_feature(dataset, yunet_model):
    with Workspace.open(dataset) as ws:
        ran = analyze_dataset(ws, backend="yunet", workers=1)
        assert ran.by_rel()["camera.png"].pose == "profile"
    with Workspace.open(dataset) as ws:  # a later process: only the cache
        cached = cached_analysis(ws)
        assert cached is not None and cached.backend == "yunet"
        by_rel = cached.by_rel()
        assert set(by_rel) == {"camera.png", "astronaut.png"}
        assert by_rel["camera.png"].pose == "profile"
        assert by_rel["astronaut.png"].pose != "profile"
        assert by_rel["camera.png"].tier == ran.by_rel()["camera.png"].tier
        assert _invisible(ws) == {"camera.png"}
        # the user's word wins over the measurement
        ws.set_override("camera.png", "pose", "frontal")
        assert _invisible(ws) == set()


def test_a_changed_file_has_no_cached_facts(dataset, yunet_model):
    with Workspace.open(dataset) as ws:
        analyze_dataset(ws, backend="yunet", workers=1)
    camera = dataset / "camera.png"
    camera.write_bytes(camera.read_bytes() + b"\0")  # other bytes, other size: stale
    st = camera.stat()
    os.utime(camera, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with Workspace.open(dataset) as ws:
        cached = cached_analysis(ws)
        assert cached is not None and set(cached.by_rel()) == {"astronaut.png"}
        assert _invisible(ws) == set()


def test_backend_with_most_coverage_wins(dataset, yunet_model):
    with Workspace.open(dataset) as ws:
        analyze_dataset(ws, backend="yunet", workers=1)
        assert cached_analysis(ws, backends=("haar",)) is None
        assert cached_analysis(ws, backends=("haar", "yunet")).backend == "yunet"
