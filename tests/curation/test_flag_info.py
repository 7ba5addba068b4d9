"""Every face-analysis flag has its meaning in the one table (labels, badge, level)."""

from __future__ import annotations

from curation.analysis.classify import FLAGS
from curation.analysis.flag_info import FLAG_INFO, flag_label, is_problem


def test_every_flag_is_described_once() -> None:
    assert list(FLAG_INFO) == list(FLAGS)  # same names, same order (the filter list)
    assert all(info.level in ("problem", "warning", "note") for info in FLAG_INFO.values())
    assert flag_label("blurry") == "Blurry face" and flag_label("new-flag") == "new-flag"
    assert is_problem("identity-outlier") and not is_problem("borderline-tier")
