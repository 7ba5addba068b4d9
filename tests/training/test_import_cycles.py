"""No import cycles in ``training``, not even through imports inside functions (architecture:
"shared types get their own small module"). Imports under ``TYPE_CHECKING`` do not run and
do not count."""

from __future__ import annotations

import pytest

# Cycles inside the ai-toolkit converter, which issue 13 moves into ``training/aitk/``; remove
# them from here when that lands.
KNOWN = {
    ("training.aitk", "training.aitk_export"),
    ("training.aitk", "training.aitk_map"),
}


def _cycles(package: str) -> set[tuple[str, str]]:
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    found = set()
    for a in graph.modules:
        for b in graph.find_modules_directly_imported_by(a):
            if b.startswith(package) and graph.chain_exists(importer=b, imported=a):
                found.add(tuple(sorted((a, b))))
    return found


def test_training_has_no_import_cycles():
    assert _cycles("training") - KNOWN == set()


def test_the_config_modules_import_each_other_one_way():
    """The cycle config <-> config_io <-> checkpoints <-> presets is gone."""
    pairs = _cycles("training")
    for a in ("training.config", "training.config_io", "training.checkpoints"):
        assert not [p for p in pairs if a in p], pairs
