"""Dataset-level measures: near-duplicate groups and identity consistency / clustering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["duplicate_groups", "identity_scores", "identity_clusters", "MAX_CLUSTER"]

MAX_CLUSTER = 1500


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
    face_boxes: Sequence[Sequence[float] | None] | None = None,
    box_iou_min: float = 0.5,
) -> list[list[str]]:
    """Groups of near-duplicate images (each a list of keys, in input order).

    Two images are near-duplicates when both perceptual hashes are within ``hash_max`` bits,
    or when their face embeddings have cosine >= ``embedding_min`` (the same face in the same
    expression and light) and their hashes are within the looser ``embedding_hash_max``.
    ``face_boxes`` (primary face as x, y, w, h in fractions of the image, or None) veto a pair
    whose faces are not in the same place (IoU < ``box_iou_min``), or where only one image has
    a face: two different poses on the same plain studio background can hash alike.
    """
    n = len(keys)
    uf = _UnionFind(n)
    if n < 2:
        return []
    emb = embeddings or {}
    dh = np.array(dhashes, dtype=np.uint64)
    ph = np.array(phashes, dtype=np.uint64)
    has_emb = np.array([keys[i] in emb for i in range(n)])
    mat = None
    if has_emb.any():
        dim = len(next(iter(emb.values())))
        mat = np.zeros((n, dim), dtype=np.float32)
        for i in np.flatnonzero(has_emb):
            mat[i] = emb[keys[int(i)]]
    boxes = None
    if face_boxes is not None:
        boxes = np.array(
            [b if b is not None else (np.nan,) * 4 for b in face_boxes], dtype=np.float64
        ).reshape(n, 4)
    block = 512  # rows at a time: memory stays O(block * n) for 10,000-image folders
    for start in range(0, n, block):
        stop = min(n, start + block)
        dd = np.bitwise_count(dh[start:stop, None] ^ dh[None, :])
        pd = np.bitwise_count(ph[start:stop, None] ^ ph[None, :])
        close = (dd <= hash_max) & (pd <= hash_max)
        if mat is not None:
            cos = mat[start:stop] @ mat.T
            both = has_emb[start:stop, None] & has_emb[None, :]
            loose = np.maximum(dd, pd) <= embedding_hash_max
            close |= both & loose & (cos >= embedding_min)
        if boxes is not None:
            close &= _same_place(boxes[start:stop], boxes, box_iou_min)
        rows, cols = np.nonzero(close)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c > r + start:
                uf.union(r + start, c)
    return [[keys[i] for i in sorted(g)] for g in sorted(uf.groups())]


def _same_place(a: np.ndarray, b: np.ndarray, iou_min: float) -> np.ndarray:
    """(len(a), len(b)) mask: both without a face, or both with faces overlapping enough."""
    ax, ay, aw, ah = (a[:, i : i + 1] for i in range(4))
    bx, by, bw, bh = (b[None, :, i] for i in range(4))
    ix = np.clip(np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx), 0, None)
    iy = np.clip(np.minimum(ay + ah, by + bh) - np.maximum(ay, by), 0, None)
    inter = ix * iy
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (aw * ah + bw * bh - inter)
    none_a, none_b = np.isnan(a[:, :1]), np.isnan(b[None, :, 0])
    return (none_a & none_b) | (np.nan_to_num(iou, nan=0.0) >= iou_min)


def identity_clusters(
    embeddings: Mapping[str, np.ndarray], threshold: float = 0.40
) -> list[list[str]]:
    """Identities present: average-linkage clusters of faces with cosine >= ``threshold``.

    Returns every cluster (singletons included), largest first. O(n^2) memory: above
    `MAX_CLUSTER` faces it returns [] (no clustering) rather than use gigabytes.
    """
    keys = list(embeddings)
    n = len(keys)
    if n == 0 or n > MAX_CLUSTER:
        return []
    mat = np.stack([embeddings[k] for k in keys]).astype(np.float64)
    sim = mat @ mat.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while alive.sum() > 1:
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        # Lance-Williams update for average linkage; a dead cluster's row/column is -inf.
        merged = (sizes[a] * sim[a] + sizes[b] * sim[b]) / (sizes[a] + sizes[b])
        merged[~alive] = -np.inf
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
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
