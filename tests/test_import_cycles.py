"""No module imports itself through a circle, not even through an import inside a function.

grimp (installed with import-linter) reads every ``import`` statement of the three packages,
including those inside functions; a strongly connected component of more than one module is
a cycle. A shared type belongs in its own small module (``curation.captions.issues``,
``curation.captions.rules.base``), not in one half of a circle.
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("curation", "training", "desktop")

#: Cycles other work removes (issue 8: training config modules; issue 13: training/aitk as a
#: subpackage). Listed exactly, so a NEW cycle, or a change to one of these, still fails;
#: the lead empties this list when those branches are merged.
KNOWN_CYCLES: set[frozenset[str]] = {
    # a TYPE_CHECKING import of RunConfig in config_io; the lead removes it at the issue 8 merge
    frozenset({"training.config", "training.config_io"}),
}


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


def test_no_import_cycles():
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    cycles = set(module_cycles(graph))
    new = cycles - KNOWN_CYCLES
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in new)
    gone = KNOWN_CYCLES - cycles
    assert not gone, f"remove from KNOWN_CYCLES, they are fixed: {gone}"


if __name__ == "__main__":
    for c in module_cycles(grimp.build_graph(*PACKAGES, include_external_packages=False)):
        print(sorted(c), file=sys.stdout)
