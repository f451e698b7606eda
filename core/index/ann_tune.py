"""Tuning an approximate index's search breadth on held-out rows, against exact search.

An HNSW index's `efSearch`, or an IVF index's `nprobe`, is raised until its recall@10 against exact
search reaches `TUNING_RECALL` on held-out rows (rows that join the index only after they served as
queries). Queries taken from the indexed rows would find themselves and their graph neighbours far too
easily (recall 0.99 where held-out queries get 0.89 in our tests). If no setting reaches `MIN_RECALL`,
the caller keeps an exact index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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

#: Searches (queries, k, setting) -> (scores, ids).
SearchWith = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def tune_ef_search(
    index: object, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest efSearch of EF_SEARCH_STEPS whose recall@k against exact search reaches `target`.

    Args:
        index: HNSW index holding exactly the rows `indexed`.
        indexed: Its rows.
        queries: Rows that are *not* in the index.

    Returns:
        (efSearch, recall reached); efSearch is the largest step when only MIN_RECALL is reached, and
        None when not even that is.
    """
    from core.index.ann import hnsw_search

    steps = EF_SEARCH_STEPS
    return tune(lambda q, d, ef: hnsw_search(index, q, d, ef), steps, indexed, queries, k, target)


def tune_nprobe(
    index: object, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest nprobe of NPROBE_STEPS (up to nlist) reaching `target`, as `tune_ef_search`."""
    from core.index.ann import ivf_search

    steps = tuple(sorted({min(step, index.nlist) for step in NPROBE_STEPS}))  # type: ignore[attr-defined]
    return tune(lambda q, d, nprobe: ivf_search(index, q, d, nprobe), steps, indexed, queries, k, target)


def tune(
    search_with: SearchWith,
    steps: tuple[int, ...],
    indexed: np.ndarray,
    queries: np.ndarray,
    k: int,
    target: float,
) -> tuple[int | None, float]:
    """The smallest of `steps` at which `search_with` reaches recall@k `target` against exact search."""
    from core.index.ann import exact_search

    depth = min(k, len(indexed))
    _, truth = exact_search(indexed, queries, depth)
    recall = 0.0
    for step in steps:
        _, found = search_with(queries, depth, step)
        recall = recall_at(found, truth)
        if recall >= target:
            return step, recall
    if recall >= MIN_RECALL:
        return steps[-1], recall
    return None, recall


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true neighbours (rows of `truth`) found (rows of `found`)."""
    depth = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / depth for f, t in zip(found, truth, strict=True)]))
