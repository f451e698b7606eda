"""Exact search: brute-force top-k by inner product, the baseline every approximate index is tuned
against and the search of flat indexes.

A BLAS matrix product over the stored vectors (no copy, memory-mapped or not); more than
`EXACT_CHUNK_ROWS` rows are scored a chunk at a time, so the held-out queries of a build over millions
of memory-mapped rows never need a (queries x rows) matrix. On our 2-core machines `IndexFlatIP.search`
with FAISS's default 2 OpenMP threads was 1.5-4x slower for one query (with 1 thread it is on par) and
2-3x slower for a batch of 32; a matrix product needs no change to FAISS's process-wide thread count
(see benchmarks/index_threshold.py).
"""

from __future__ import annotations

import numpy as np

#: Rows scored at a time.
EXACT_CHUNK_ROWS = 65_536


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k by inner product: (Q, k) scores and ids, best first, ties by smaller id.
    More than `EXACT_CHUNK_ROWS` rows are scored a chunk at a time (a memory map is read once)."""
    count = len(vectors)
    k = min(k, count)
    if k <= 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    if count > EXACT_CHUNK_ROWS:
        best = exact_search(np.asarray(vectors[:EXACT_CHUNK_ROWS]), queries, k)
        for first in range(EXACT_CHUNK_ROWS, count, EXACT_CHUNK_ROWS):
            scores, ids = exact_search(np.asarray(vectors[first : first + EXACT_CHUNK_ROWS]), queries, k)
            merged_scores = np.concatenate([best[0], scores], axis=1)
            merged_ids = np.concatenate([best[1], ids + first], axis=1)
            order = np.lexsort((merged_ids, -merged_scores), axis=-1)[:, :k]
            best = np.take_along_axis(merged_scores, order, 1), np.take_along_axis(merged_ids, order, 1)
        return best
    scores = queries @ vectors.T
    if k < count:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(count), scores.shape)
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=-1)
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return np.take_along_axis(part_scores, order, axis=1), ids
