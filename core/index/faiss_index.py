"""FAISS indexes: which type for which size, building, tuning, reading (memory-mapped) and searching.

Every vector is L2-normalised float32, so inner product is cosine similarity. Up to `EXACT_THRESHOLD`
rows an index is exact (`IndexFlatIP`); above it, HNSW, and above `IVF_THRESHOLD` IVF-Flat (an HNSW
graph of a million 768-d rows takes far longer to build on 2 cores than IVF's k-means). An HNSW
index's `efSearch`, or an IVF index's `nprobe`, is raised until its recall@10 against exact search
reaches `TUNING_RECALL` on held-out rows (the last rows, added to the index after the measurement).
If no setting gets there (high-dimensional vectors with no neighbourhood structure, such as uniform
noise), the index stays exact: an approximate index is never kept below `MIN_RECALL`.

Exact search is a BLAS matrix product over FAISS's own vector storage (no copy, memory-mapped or not).
On our 2-core machines `IndexFlatIP.search` with FAISS's default 2 OpenMP threads was 1.5-4x slower
for one query (with 1 thread it is on par) and 2-3x slower for a batch of 32; this way needs no
change to FAISS's process-wide thread count (see benchmarks/index_threshold.py).
FAISS is imported on first use only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IndexMismatchError, InvalidInputError
from core.vectors import normalize

#: Largest index searched exactly. Measured with benchmarks/index_threshold.py on 2 cores at D=768:
#: exact search of one query takes about 1.5 ms per 10k rows on a quiet machine (7 ms at 50k, 15 ms
#: at 100k) and up to twice that when the cores are shared, while HNSW answers in 0.3-1.5 ms.
#: 50k keeps exact search near a 10 ms budget.
EXACT_THRESHOLD = 50_000
#: HNSW graph degree and construction depth. With them efSearch 16-32 reached recall@10 0.96-0.99 on
#: held-out clustered 768-d rows at 25k-100k rows; adding 50k rows takes about 27 s on 2 cores.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
#: efSearch values tried, smallest first, until the measured recall reaches TUNING_RECALL.
EF_SEARCH_STEPS = (16, 32, 64, 128, 256, 512, 1024)
#: Above this many rows, IVF-Flat instead of HNSW. Measured with benchmarks/search_scale.py on 2 cores
#: (nested-cluster 768-d rows, held-out queries): at 200k rows HNSW took 129 s to build (p50 0.87 ms,
#: recall@10 0.997) and IVF 16 s (0.46 ms, 0.978); at 1M rows IVF took 100 s (nprobe 16: p50 2.0 ms,
#: recall@10 0.993) where HNSW would take over 10 minutes.
IVF_THRESHOLD = 200_000
#: nprobe values tried for IVF, smallest first, as EF_SEARCH_STEPS for HNSW.
NPROBE_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: k-means training sample of IVF: this many rows per inverted list (FAISS asks for 39 to 256).
IVF_TRAINING_ROWS_PER_LIST = 40
#: Recall@10 the tuning aims at (with a margin over MIN_RECALL for queries unlike the sample).
TUNING_RECALL = 0.97
#: Below this recall@10 an approximate index is not kept.
MIN_RECALL = 0.95
#: Held-out rows used as queries when measuring recall (at most a fifth of the new rows), and the
#: fewest new rows worth measuring when rows are added to an existing graph.
RECALL_QUERIES = 256
MIN_HELD_OUT = 64
#: Index files at least this large are memory-mapped instead of read into memory (load_index default).
MMAP_MIN_BYTES = 256 * 1024 * 1024


def _faiss() -> Any:
    # FAISS logs each CPU-specific library it tries at INFO; the CLI's INFO logging would show them all.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


@dataclass
class BuiltIndex:
    """A FAISS index with its type ("flat", "hnsw" or "ivf") and the parameters recorded in the manifest."""

    index: Any
    index_type: str
    params: dict[str, Any]


def prepare_vectors(vectors: Any, dim: int, what: str = "query vectors") -> np.ndarray:
    """Return (n, dim) C-contiguous float32 rows, L2-normalised by the same function as indexed rows.

    Raises:
        IndexMismatchError: the vectors do not have `dim` columns.
        InvalidInputError: not a 1-D or 2-D array of finite numbers.
    """
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InvalidInputError(f"The {what} must be a 1-D or 2-D array, got shape {array.shape}.")
    if array.shape[1] != dim:
        raise IndexMismatchError(
            f"The {what} have dimension {array.shape[1]}, but the index holds {dim}-dimensional vectors: "
            "embed them with the model the index was built with."
        )
    if not np.isfinite(array).all():
        raise InvalidInputError(f"The {what} contain NaN or infinite values.")
    return np.ascontiguousarray(normalize(array))


def build_index(
    vectors: np.ndarray,
    exact_threshold: int = EXACT_THRESHOLD,
    *,
    base: BuiltIndex | None = None,
    hnsw_m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
    ivf_threshold: int = IVF_THRESHOLD,
    kind: str | None = None,
) -> BuiltIndex:
    """Make the index for `vectors`: exact up to `exact_threshold` rows, HNSW above it, IVF-Flat
    above `ivf_threshold`.

    Args:
        vectors: (N, D) normalised float32 rows; row i gets id i.
        exact_threshold: Largest N searched exactly.
        base: An approximate index whose rows are the first rows of `vectors` (an earlier build): only
            the new rows are added to it (HNSW: to its graph; IVF: to its lists, with the same
            centroids) instead of building a new one.
        hnsw_m, ef_construction: HNSW construction parameters.
        ivf_threshold: Largest N indexed with HNSW rather than IVF.
        kind: "hnsw" or "ivf" to choose the approximate type whatever N is (N above exact_threshold).

    Returns:
        The index, its type and the parameters to record (HNSW: M, ef_construction, ef_search; IVF:
        nlist, nprobe; both with the measured recall@10; flat above the threshold: why the
        approximate index was not kept).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dim = vectors.shape
    if count <= exact_threshold:
        return BuiltIndex(flat_index(vectors), "flat", {})
    kind = kind or ("ivf" if count > ivf_threshold else "hnsw")
    if kind == "ivf":
        params = {"nlist": ivf_lists(count)}
        reusable = _reusable(base, "ivf", {"nlist": None}, count)
    else:
        params = {"M": hnsw_m, "ef_construction": ef_construction}
        reusable = _reusable(base, "hnsw", params, count)
    start = base.index.ntotal if reusable else 0  # type: ignore[union-attr]
    held_out = min(RECALL_QUERIES, (count - start) // 5)
    if held_out < 1 and not reusable:
        reason = (
            f"{count} rows are too few to measure the recall of {kind.upper()}, so the index stays exact."
        )
        return BuiltIndex(flat_index(vectors), "flat", {"approximate_rejected": reason})
    if reusable and held_out < MIN_HELD_OUT:
        # Too few new rows to measure anything: the index barely changes, keep the measured setting.
        base.index.add(vectors[start:])  # type: ignore[union-attr]
        return BuiltIndex(base.index, kind, dict(base.params))  # type: ignore[union-attr]
    # The last rows join the index only after they have served as queries: held-out queries.
    split = count - held_out
    if reusable:
        index = base.index  # type: ignore[union-attr]
        params = {key: base.params[key] for key in params}  # type: ignore[union-attr]
    elif kind == "ivf":
        index = _trained_ivf(vectors[:split], params["nlist"])
    else:
        index = _faiss().IndexHNSWFlat(dim, hnsw_m, _faiss().METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    index.add(vectors[start:split])
    if kind == "ivf":
        setting, recall = tune_nprobe(index, vectors[:split], vectors[split:])
        name, steps = "nprobe", NPROBE_STEPS
    else:
        setting, recall = tune_ef_search(index, vectors[:split], vectors[split:])
        name, steps = "ef_search", EF_SEARCH_STEPS
    index.add(vectors[split:])
    if setting is None:
        reason = (
            f"{kind.upper()} reached recall@10 {recall:.3f} < {MIN_RECALL} even at {name} {steps[-1]} "
            f"({count} rows above the exact threshold {exact_threshold}), so the index stays exact."
        )
        return BuiltIndex(flat_index(vectors), "flat", {"approximate_rejected": reason})
    params.update({name: setting, "recall_at_10": round(recall, 4), "recall_queries": held_out})
    return BuiltIndex(index, kind, params)


def _reusable(base: BuiltIndex | None, kind: str, params: dict[str, Any], count: int) -> bool:
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
    faiss = _faiss()
    sample_size = min(len(vectors), IVF_TRAINING_ROWS_PER_LIST * nlist)
    rows = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 0
    index.train(np.ascontiguousarray(vectors[np.sort(rows)]))
    return index  # FAISS's Python wrapper keeps `quantizer` alive with the index


def flat_index(vectors: np.ndarray) -> Any:
    faiss = _faiss()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def tune_ef_search(
    index: Any, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest efSearch of EF_SEARCH_STEPS whose recall@k against exact search reaches `target`.

    Args:
        index: HNSW index holding exactly the rows `indexed`.
        indexed: Its rows.
        queries: Rows that are *not* in the index. Queries taken from the indexed rows would find
            themselves and their graph neighbours far too easily (recall 0.99 where held-out queries
            get 0.89 in our tests).

    Returns:
        (efSearch, recall reached); efSearch is the largest step when only MIN_RECALL is reached, and
        None when not even that is.
    """
    return _tune(lambda q, d, ef: hnsw_search(index, q, d, ef), EF_SEARCH_STEPS, indexed, queries, k, target)


def tune_nprobe(
    index: Any, indexed: np.ndarray, queries: np.ndarray, k: int = 10, target: float = TUNING_RECALL
) -> tuple[int | None, float]:
    """Smallest nprobe of NPROBE_STEPS (up to nlist) reaching `target`, as `tune_ef_search`."""
    steps = tuple(sorted({min(step, index.nlist) for step in NPROBE_STEPS}))
    return _tune(lambda q, d, nprobe: ivf_search(index, q, d, nprobe), steps, indexed, queries, k, target)


def _tune(
    search_with: Any, steps: tuple[int, ...], indexed: np.ndarray, queries: np.ndarray, k: int, target: float
) -> tuple[int | None, float]:
    depth = min(k, len(indexed))
    _, truth = exact_search(indexed, queries, depth)
    recall = 0.0
    for step in steps:
        _, found = search_with(queries, depth, step)
        recall = float(np.mean([len(set(f) & set(t)) / depth for f, t in zip(found, truth, strict=True)]))
        if recall >= target:
            return step, recall
    if recall >= MIN_RECALL:
        return steps[-1], recall
    return None, recall


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k by inner product: (Q, k) scores and ids, best first, ties by smaller id."""
    count = len(vectors)
    k = min(k, count)
    if k <= 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    scores = queries @ vectors.T
    if k < count:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(count), scores.shape)
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=-1)
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return np.take_along_axis(part_scores, order, axis=1), ids


def hnsw_search(index: Any, queries: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    params = faiss.SearchParametersHNSW(efSearch=int(max(ef_search, k)))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def ivf_search(index: Any, queries: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    params = faiss.SearchParametersIVF(nprobe=int(nprobe))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def search(
    index: Any, index_type: str, params: dict[str, Any], queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of prepared queries: (Q, k') scores and ids, best first; FAISS's -1 padding is left as is."""
    if index_type == "hnsw":
        return hnsw_search(index, queries, min(k, index.ntotal), int(params.get("ef_search", 64)))
    if index_type == "ivf":
        return ivf_search(index, queries, min(k, index.ntotal), int(params.get("nprobe", 32)))
    return exact_search(vectors_of(index), queries, k)


def vectors_of(index: Any) -> np.ndarray:
    """The (N, D) stored vectors of a flat or HNSW-flat index, as a read-only view (no copy); of an
    IVF-Flat index, a copy in id order (its rows are kept per inverted list).

    The view is valid while `index` is alive.
    """
    faiss = _faiss()
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        if index.ntotal == 0:
            return np.zeros((0, index.d), np.float32)
        index.make_direct_map()
        return index.reconstruct_n(0, index.ntotal)
    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(storage, faiss.IndexFlat):
        raise TypeError(f"{type(storage).__name__} does not store its vectors as floats.")
    if storage.ntotal == 0:
        return np.zeros((0, storage.d), np.float32)
    view = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)
    view.flags.writeable = False
    return view


def write_index(index: Any, path: Path) -> None:
    # Through a Python file object: a full disk then raises OSError (ENOSPC), which the build reports as
    # such. FAISS's own file writer raises RuntimeError instead, or when only its final flush fails,
    # prints "close error" and returns, leaving a truncated file.
    faiss = _faiss()
    with open(path, "wb") as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))


def read_index(path: Path, mmap: bool) -> Any:
    """Read an index file; with `mmap`, its vectors (and graph) stay on disk and are paged in on use."""
    faiss = _faiss()
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)


def describe(index: Any) -> tuple[str, int, int]:
    """(type, dimension, row count) of a FAISS index read from disk."""
    faiss = _faiss()
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        kind = "hnsw"
    elif isinstance(index, faiss.IndexIVFFlat):
        kind = "ivf"
    elif isinstance(index, faiss.IndexFlat):
        kind = "flat"
    else:
        kind = type(index).__name__
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        kind += "-not-inner-product"
    return kind, int(index.d), int(index.ntotal)
