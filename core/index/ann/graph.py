"""Approximate indexes that keep float32 vectors: HNSW graphs, and IVF-Flat above `IVF_THRESHOLD` rows
(an HNSW graph of a million 768-d rows takes far longer to build on 2 cores than IVF's k-means).

Their search breadth (`efSearch`, `nprobe`) is tuned on held-out rows (`core.index.ann.tuning`); if no
setting reaches `tuning.MIN_RECALL`, the index stays exact. An update whose rows extend an earlier
build's adds only the new rows to its graph (or lists, with the same centroids).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.index.ann import tuning
from core.index.ann.basics import BuiltIndex, IndexType, flat_index, load_faiss

#: HNSW graph degree and construction depth. With them efSearch 16-32 reached recall@10 0.96-0.99 on
#: held-out clustered 768-d rows at 25k-100k rows; adding 50k rows takes about 27 s on 2 cores.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
#: k-means training sample of IVF: this many rows per inverted list (FAISS asks for 39 to 256).
IVF_TRAINING_ROWS_PER_LIST = 40


def build_graph(
    vectors: np.ndarray,
    kind: IndexType,
    exact_threshold: int,
    *,
    base: BuiltIndex | None = None,
    hnsw_m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
) -> BuiltIndex:
    """An HNSW or IVF-Flat index of `vectors` (more than `exact_threshold` rows), its search breadth
    tuned on held-out rows; exact instead when the rows are too few to measure recall or no breadth
    reaches `tuning.MIN_RECALL` (the parameters then say why).

    Args:
        base: An earlier build of the same type and parameters whose rows are the first rows of
            `vectors`: only the new rows are added to it.
    """
    count = len(vectors)
    if kind == IndexType.IVF:
        params: dict[str, Any] = {"nlist": ivf_lists(count)}
        reusable = _reusable(base, kind, {"nlist": None}, count)
    else:
        params = {"M": hnsw_m, "ef_construction": ef_construction}
        reusable = _reusable(base, kind, params, count)
    start = base.index.ntotal if reusable else 0  # type: ignore[union-attr]
    held_out = min(tuning.RECALL_QUERIES, (count - start) // 5)
    if held_out < 1 and not reusable:
        reason = (
            f"{count} rows are too few to measure the recall of {kind.upper()}, so the index stays exact."
        )
        return BuiltIndex(flat_index(vectors), IndexType.FLAT, {"approximate_rejected": reason})
    if reusable and held_out < tuning.MIN_HELD_OUT:
        # Too few new rows to measure anything: the index barely changes, keep the measured setting.
        base.index.add(vectors[start:])  # type: ignore[union-attr]
        return BuiltIndex(base.index, kind, dict(base.params))  # type: ignore[union-attr]
    if reusable:
        index = base.index  # type: ignore[union-attr]
        params = {key: base.params[key] for key in params}  # type: ignore[union-attr]
    elif kind == IndexType.IVF:
        index = _trained_ivf(vectors[: count - held_out], params["nlist"])
    else:
        index = load_faiss().IndexHNSWFlat(vectors.shape[1], hnsw_m, load_faiss().METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    return _tuned(index, kind, params, vectors, start, held_out, exact_threshold)


def _tuned(
    index: Any,
    kind: IndexType,
    params: dict[str, Any],
    vectors: np.ndarray,
    start: int,
    held_out: int,
    exact_threshold: int,
) -> BuiltIndex:
    """Add rows `start:` to `index`, the last `held_out` only after they served as tuning queries."""
    count = len(vectors)
    split = count - held_out
    index.add(vectors[start:split])
    if kind == IndexType.IVF:
        setting, recall = tune_nprobe(index, vectors[:split], vectors[split:])
        name, steps = "nprobe", tuning.NPROBE_STEPS
    else:
        setting, recall = tune_ef_search(index, vectors[:split], vectors[split:])
        name, steps = "ef_search", tuning.EF_SEARCH_STEPS
    index.add(vectors[split:])
    if setting is None:
        reason = (
            f"{kind.upper()} reached recall@10 {recall:.3f} < {tuning.MIN_RECALL} even at {name} "
            f"{steps[-1]} ({count} rows above the exact threshold {exact_threshold}), so the index stays "
            "exact."
        )
        return BuiltIndex(flat_index(vectors), IndexType.FLAT, {"approximate_rejected": reason})
    params = {**params, name: setting, "recall_at_10": round(recall, 4), "recall_queries": held_out}
    return BuiltIndex(index, kind, params)


def _reusable(base: BuiltIndex | None, kind: IndexType, params: dict[str, Any], count: int) -> bool:
    """Whether `base` can take the new rows: same type and parameters (None: any value)."""
    return (
        base is not None
        and base.index_type == kind
        and all(value is None or base.params.get(key) == value for key, value in params.items())
        and base.index.ntotal <= count
    )


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` rows: the power of two nearest 2 x sqrt(count), 64 to 65,536."""
    return int(2 ** np.clip(round(np.log2(2 * np.sqrt(max(count, 1)))), 6, 16))


def _trained_ivf(vectors: np.ndarray, nlist: int) -> Any:
    """An empty IVF-Flat index whose k-means centroids come from a fixed sample of `vectors`."""
    faiss = load_faiss()
    sample_size = min(len(vectors), IVF_TRAINING_ROWS_PER_LIST * nlist)
    rows = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 0
    index.train(np.ascontiguousarray(vectors[np.sort(rows)]))
    return index  # FAISS's Python wrapper keeps `quantizer` alive with the index


def hnsw_search(index: Any, queries: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = load_faiss()
    params = faiss.SearchParametersHNSW(efSearch=int(max(ef_search, k)))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def ivf_search(index: Any, queries: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = load_faiss()
    params = faiss.SearchParametersIVF(nprobe=int(nprobe))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def tune_ef_search(
    index: Any, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = tuning.TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest efSearch of `tuning.EF_SEARCH_STEPS` whose recall@k against exact search reaches
    `target`, as `tuning.smallest_step`.

    Args:
        index: HNSW index holding exactly the rows `indexed`.
        indexed: Its rows.
        queries: Rows that are *not* in the index.
    """
    steps = tuning.EF_SEARCH_STEPS
    return tuning.smallest_step(
        lambda q, d, ef: hnsw_search(index, q, d, ef), steps, indexed, queries, k, target
    )


def tune_nprobe(
    index: Any, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = tuning.TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest nprobe of `tuning.NPROBE_STEPS` (up to nlist) reaching `target`, as `tune_ef_search`."""
    steps = tuple(sorted({min(step, index.nlist) for step in tuning.NPROBE_STEPS}))
    return tuning.smallest_step(
        lambda q, d, nprobe: ivf_search(index, q, d, nprobe), steps, indexed, queries, k, target
    )
