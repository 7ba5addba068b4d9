"""No module imports itself through a circle, not even through an import inside a function.

grimp (installed with import-linter) reads every ``import`` statement of the three packages,
including those inside functions; a strongly connected component of more than one module is
a cycle. Imports under ``if TYPE_CHECKING:`` never run (annotations only, for pyright); the
test runs twice, without them and with them, so they may not close a circle either
(``training.config_ops`` names ``RunConfig`` that way, and ``training.config`` never imports
it). A shared type belongs in
its own small module (``curation.captions.issues``, ``curation.captions.rules.base``), not in
one half of a circle.
"""

from __future__ import annotations

import sys

import grimp
import pytest

PACKAGES = ("curation", "training", "desktop")

#: Cycles allowed for now, listed exactly (a new cycle, or a change to one of these, fails):
#: none. Keep it that way.
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_cycles(graph) -> list[frozenset[str]]:
    """Every strongly connected component of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    out.append(frozenset(comp))
    return out


def test_the_cycle_finder_finds_a_cycle():
    class Graph:
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
        modules = set(edges)

        def find_modules_directly_imported_by(self, m):
            return self.edges[m]

    assert module_cycles(Graph()) == [frozenset({"a", "b", "c"})]


@pytest.mark.parametrize("type_checking", [False, True], ids=["runtime", "with-type-checking"])
def test_no_import_cycles(type_checking: bool):
    """No circle at run time, and none through ``if TYPE_CHECKING:`` imports either (those
    never run, but a circle of names is still a knot in the design)."""
    graph = grimp.build_graph(  # no cache: a stale one once showed a circle already gone
        *PACKAGES,
        include_external_packages=False,
        exclude_type_checking_imports=not type_checking,
        cache_dir=None,
    )
    cycles = set(module_cycles(graph))
    new = cycles - KNOWN_CYCLES
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in new)
    gone = KNOWN_CYCLES - cycles
    assert not gone, f"remove from KNOWN_CYCLES, they are fixed: {gone}"


if __name__ == "__main__":
    for c in module_cycles(
        grimp.build_graph(
            *PACKAGES, include_external_packages=False, exclude_type_checking_imports=True
        )
    ):
        print(sorted(c), file=sys.stdout)
