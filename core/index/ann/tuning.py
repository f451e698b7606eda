"""Tuning an approximate index's search breadth on held-out rows, against exact search.

An HNSW index's `efSearch`, or an IVF index's `nprobe`, is raised until its recall@10 against exact
search reaches `TUNING_RECALL` on held-out rows (rows that join the index only after they served as
queries). Queries taken from the indexed rows would find themselves and their graph neighbours far too
easily (recall 0.99 where held-out queries get 0.89 in our tests). If no setting reaches `MIN_RECALL`,
the caller keeps an exact index. The searches themselves are the callers' (`graph`, `compressed`):
this module only measures.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.index.ann.exact import exact_search

#: efSearch values tried, smallest first, until the measured recall reaches TUNING_RECALL.
EF_SEARCH_STEPS = (16, 32, 64, 128, 256, 512, 1024)
#: nprobe values tried for IVF, smallest first, as EF_SEARCH_STEPS for HNSW.
NPROBE_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: Recall@10 the tuning aims at (with a margin over MIN_RECALL for queries unlike the sample).
TUNING_RECALL = 0.97
#: Below this recall@10 an approximate index is not kept.
MIN_RECALL = 0.95
#: Held-out rows used as queries when measuring recall (at most a fifth of the new rows), and the
#: fewest new rows worth measuring when rows are added to an existing graph.
RECALL_QUERIES = 256
MIN_HELD_OUT = 64

#: Scores this close to the k-th true one are ties (float32 products of unit vectors differ by ~1e-7).
SCORE_TOLERANCE = 1e-6

#: Searches (queries, k, setting) -> (scores, ids).
SearchWith = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def smallest_step(
    search_with: SearchWith,
    steps: tuple[int, ...],
    indexed: np.ndarray,
    queries: np.ndarray,
    k: int,
    target: float,
) -> tuple[int | None, float]:
    """The smallest of `steps` at which `search_with` reaches recall@k `target` against exact search.

    Returns:
        (step, recall reached); the largest step when only MIN_RECALL is reached, and None when not
        even that is.
    """
    depth = min(k, len(indexed))
    truth, _ = exact_search(indexed, queries, depth)
    recall = 0.0
    for step in steps:
        _, found = search_with(queries, depth, step)
        recall = tied_recall_at(found, queries, indexed, truth)
        if recall >= target:
            return step, recall
    if recall >= MIN_RECALL:
        return steps[-1], recall
    return None, recall


def tied_recall_at(
    found: np.ndarray, queries: np.ndarray, indexed: np.ndarray, truth_scores: np.ndarray
) -> float:
    """Recall@k by score: the share of each query's k results whose exact score reaches its k-th true
    score. Without ties it is `recall_at`; with duplicates (the same photo twice, or texts a model
    cannot tell apart) any of the equal rows counts, where ids alone would count all but one as
    missed (22,000 captions with 4 distinct vectors measured recall 0.0 by ids).

    Args:
        found: (Q, k) ids, -1 for none. truth_scores: (Q, k) exact top-k scores, best first.
    """
    depth = truth_scores.shape[1]
    shares = []
    for ids, query, best in zip(found, queries, truth_scores, strict=True):
        ids = np.unique(ids[ids >= 0])[:depth]  # each row counts once
        scores = np.asarray(indexed[ids], np.float32) @ query
        shares.append(min(depth, int(np.sum(scores >= best[-1] - SCORE_TOLERANCE))) / depth)
    return float(np.mean(shares)) if shares else 0.0


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true neighbours (rows of `truth`) found (rows of `found`)."""
    depth = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / depth for f, t in zip(found, truth, strict=True)]))
