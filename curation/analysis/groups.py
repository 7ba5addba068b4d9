"""Dataset-level measures: near-duplicate groups and identity consistency / clustering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from curation.analysis.measures import hamming

__all__ = ["duplicate_groups", "identity_scores", "identity_clusters"]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def duplicate_groups(
    keys: Sequence[str],
    dhashes: Sequence[int],
    phashes: Sequence[int],
    embeddings: Mapping[str, np.ndarray] | None = None,
    *,
    hash_max: int = 10,
    embedding_min: float = 0.92,
    embedding_hash_max: int = 22,
) -> list[list[str]]:
    """Groups of near-duplicate images (each a list of keys, in input order).

    Two images are near-duplicates when both perceptual hashes are within ``hash_max`` bits,
    or when their face embeddings have cosine >= ``embedding_min`` (the same face in the same
    expression and light) and their hashes are within the looser ``embedding_hash_max``.
    """
    n = len(keys)
    uf = _UnionFind(n)
    emb = embeddings or {}
    for i in range(n):
        for j in range(i + 1, n):
            dd = hamming(dhashes[i], dhashes[j])
            pd = hamming(phashes[i], phashes[j])
            if dd <= hash_max and pd <= hash_max:
                uf.union(i, j)
                continue
            ei, ej = emb.get(keys[i]), emb.get(keys[j])
            if ei is not None and ej is not None and max(dd, pd) <= embedding_hash_max:
                if float(np.dot(ei, ej)) >= embedding_min:
                    uf.union(i, j)
    return [[keys[i] for i in sorted(g)] for g in sorted(uf.groups())]


def identity_clusters(
    embeddings: Mapping[str, np.ndarray], threshold: float = 0.40
) -> list[list[str]]:
    """Identities present: average-linkage clusters of faces with cosine >= ``threshold``.

    Returns every cluster (singletons included), largest first. O(n^2) memory, fine for the
    few hundred images of a LoRA dataset.
    """
    keys = list(embeddings)
    n = len(keys)
    if n == 0:
        return []
    mat = np.stack([embeddings[k] for k in keys]).astype(np.float64)
    sim = mat @ mat.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while alive.sum() > 1:
        masked = np.where(np.outer(alive, alive), sim, -np.inf)
        a, b = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if masked[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        # Lance-Williams update for average linkage.
        merged = (sizes[a] * sim[a] + sizes[b] * sim[b]) / (sizes[a] + sizes[b])
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        members[a] += members[b]
    clusters = [sorted(members[i]) for i in range(n) if alive[i]]
    clusters.sort(key=lambda c: (-len(c), c[0]))
    return [[keys[i] for i in c] for c in clusters]


def identity_scores(
    embeddings: Mapping[str, np.ndarray], reference: Sequence[str] | None = None
) -> dict[str, float]:
    """Cosine similarity of each face to the mean of the *other* faces of ``reference``.

    ``reference`` (default: all) is the set that defines the character, e.g. the largest
    identity cluster when several people are present. Needs at least two faces.
    """
    keys = list(embeddings)
    ref = [k for k in (reference if reference is not None else keys) if k in embeddings]
    if len(ref) < 2 and not (len(ref) == 1 and len(keys) > 1):
        return {}
    total = np.sum([embeddings[k] for k in ref], axis=0)
    out: dict[str, float] = {}
    for key in keys:
        vec = embeddings[key]
        others = total - vec if key in ref else total
        count = len(ref) - (1 if key in ref else 0)
        if count < 1:
            continue
        norm = float(np.linalg.norm(others))
        if norm <= 0:
            continue
        out[key] = float(np.dot(vec, others / norm))
    return out
