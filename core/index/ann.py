"""FAISS indexes: which type for which size, building, reading (memory-mapped), writing and searching.

Every vector is L2-normalised float32, so inner product is cosine similarity. Up to `EXACT_THRESHOLD`
rows an index is exact (`IndexFlatIP`); above it, HNSW, and above `IVF_THRESHOLD` IVF-Flat (an HNSW
graph of a million 768-d rows takes far longer to build on 2 cores than IVF's k-means). An index whose
float32 vectors would not fit the memory budget, or of more than `COMPRESSED_THRESHOLD` rows, is
compressed: IVF-PQ re-ranked from float16 vectors on disk (`core.index.ann_compressed`). The search
breadth of an approximate index is tuned on held-out rows (`core.index.ann_tune`); if no setting
reaches `ann_tune.MIN_RECALL`, the index stays exact (a compressed one keeps its best setting and
says so: an exact index would not fit the budget).

Exact search is a BLAS matrix product over FAISS's own vector storage (no copy, memory-mapped or not).
On our 2-core machines `IndexFlatIP.search` with FAISS's default 2 OpenMP threads was 1.5-4x slower
for one query (with 1 thread it is on par) and 2-3x slower for a batch of 32; this way needs no
change to FAISS's process-wide thread count (see benchmarks/index_threshold.py).
FAISS is imported on first use only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.index import ann_tune
from core.index.ann_files import ann_shape, read_ann, write_ann
from core.index.exact import exact_search
from core.index.layout import IndexType

__all__ = ["BuiltIndex", "ann_shape", "build_ann", "exact_search", "read_ann", "search_ann", "write_ann"]

#: Largest index searched exactly. Measured with benchmarks/index_threshold.py on 2 cores at D=768:
#: exact search of one query takes about 1.5 ms per 10k rows on a quiet machine (7 ms at 50k, 15 ms
#: at 100k) and up to twice that when the cores are shared, while HNSW answers in 0.3-1.5 ms.
#: 50k keeps exact search near a 10 ms budget.
EXACT_THRESHOLD = 50_000
#: HNSW graph degree and construction depth. With them efSearch 16-32 reached recall@10 0.96-0.99 on
#: held-out clustered 768-d rows at 25k-100k rows; adding 50k rows takes about 27 s on 2 cores.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
#: Above this many rows, IVF-Flat instead of HNSW. Measured with benchmarks/search_scale.py on 2 cores
#: (nested-cluster 768-d rows, held-out queries): at 200k rows HNSW took 129 s to build (p50 0.87 ms,
#: recall@10 0.997) and IVF 16 s (0.46 ms, 0.978); at 1M rows IVF took 100 s (nprobe 16: p50 2.0 ms,
#: recall@10 0.993) where HNSW would take over 10 minutes.
IVF_THRESHOLD = 200_000
#: k-means training sample of IVF: this many rows per inverted list (FAISS asks for 39 to 256).
IVF_TRAINING_ROWS_PER_LIST = 40
#: Default `BuildOptions.memory_budget`: RAM an approximate index may take when searched.
DEFAULT_MEMORY_BUDGET = 2 * 2**30
#: Above this many rows an index is compressed whatever the budget (placeholder until measured).
COMPRESSED_THRESHOLD = 1_000_000
#: Index files at least this large are memory-mapped instead of read into memory (load_index default).
MMAP_MIN_BYTES = 256 * 1024 * 1024


def _faiss() -> Any:
    # FAISS logs each CPU-specific library it tries at INFO; the CLI's INFO logging would show them all.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


@dataclass
class BuiltIndex:
    """A FAISS index with its type and the parameters recorded in the manifest; a compressed one with
    the vectors that re-rank it (float32 while built, the float16 file's memory map once loaded)."""

    index: Any
    index_type: IndexType
    params: dict[str, Any]
    rerank: np.ndarray | None = None


def choose_type(count: int, dim: int, memory_budget: int, ivf_threshold: int = IVF_THRESHOLD) -> IndexType:
    """The approximate index for `count` rows: compressed when their float32 vectors exceed the budget
    (or above `COMPRESSED_THRESHOLD` rows), else IVF-Flat above `ivf_threshold` rows, else HNSW."""
    from core.index.ann_compressed import MIN_PQ_TRAINING_ROWS

    too_big = count > COMPRESSED_THRESHOLD or count * (4 * dim + 8) > memory_budget
    if too_big and count >= 2 * MIN_PQ_TRAINING_ROWS:  # fewer rows cannot train the codebooks well
        return IndexType.IVFPQ
    return IndexType.IVF if count > ivf_threshold else IndexType.HNSW


def build_ann(
    vectors: np.ndarray,
    exact_threshold: int = EXACT_THRESHOLD,
    *,
    base: BuiltIndex | None = None,
    hnsw_m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
    ivf_threshold: int = IVF_THRESHOLD,
    index_type: IndexType | None = None,
    memory_budget: int | None = None,
    opq: bool = False,
) -> BuiltIndex:
    """Make the index for `vectors`: exact up to `exact_threshold` rows, HNSW above it, IVF-Flat
    above `ivf_threshold`, IVF-PQ (compressed) when the rows do not fit `memory_budget`.

    Args:
        vectors: (N, D) normalised float32 rows; row i gets id i.
        exact_threshold: Largest N searched exactly.
        base: An approximate index whose rows are the first rows of `vectors` (an earlier build): only
            the new rows are added to it (HNSW: to its graph; IVF: to its lists, with the same
            centroids) instead of building a new one.
        hnsw_m, ef_construction: HNSW construction parameters.
        ivf_threshold: Largest N indexed with HNSW rather than IVF.
        index_type: HNSW, IVF or IVFPQ whatever N is (N above exact_threshold).
        memory_budget: Bytes of RAM the index may take (default `DEFAULT_MEMORY_BUDGET`).
        opq: Rotate the rows (OPQ) before product quantisation.

    Returns:
        The index, its type and the parameters to record (HNSW: M, ef_construction, ef_search; IVF:
        nlist, nprobe; IVFPQ: nlist, m, nprobe, candidates; all with the measured recall@10; flat
        above the threshold: why the approximate index was not kept).

    Raises:
        InvalidInputError: the memory budget is too small for any compressed index of these rows.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # a memory map stays one
    count, dim = vectors.shape
    if count <= exact_threshold:
        return BuiltIndex(flat_index(vectors), IndexType.FLAT, {})
    budget = memory_budget or DEFAULT_MEMORY_BUDGET
    kind = IndexType(index_type or choose_type(count, dim, budget, ivf_threshold))
    if kind == IndexType.IVFPQ:
        from core.index.ann_compressed import build_compressed

        return build_compressed(vectors, budget, base=base, opq=opq)
    if kind == IndexType.IVF:
        params: dict[str, Any] = {"nlist": ivf_lists(count)}
        reusable = _reusable(base, kind, {"nlist": None}, count)
    else:
        params = {"M": hnsw_m, "ef_construction": ef_construction}
        reusable = _reusable(base, kind, params, count)
    start = base.index.ntotal if reusable else 0  # type: ignore[union-attr]
    held_out = min(ann_tune.RECALL_QUERIES, (count - start) // 5)
    if held_out < 1 and not reusable:
        reason = (
            f"{count} rows are too few to measure the recall of {kind.upper()}, so the index stays exact."
        )
        return BuiltIndex(flat_index(vectors), IndexType.FLAT, {"approximate_rejected": reason})
    if reusable and held_out < ann_tune.MIN_HELD_OUT:
        # Too few new rows to measure anything: the index barely changes, keep the measured setting.
        base.index.add(vectors[start:])  # type: ignore[union-attr]
        return BuiltIndex(base.index, kind, dict(base.params))  # type: ignore[union-attr]
    if reusable:
        index = base.index  # type: ignore[union-attr]
        params = {key: base.params[key] for key in params}  # type: ignore[union-attr]
    elif kind == IndexType.IVF:
        index = _trained_ivf(vectors[: count - held_out], params["nlist"])
    else:
        index = _faiss().IndexHNSWFlat(dim, hnsw_m, _faiss().METRIC_INNER_PRODUCT)
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
        setting, recall = ann_tune.tune_nprobe(index, vectors[:split], vectors[split:])
        name, steps = "nprobe", ann_tune.NPROBE_STEPS
    else:
        setting, recall = ann_tune.tune_ef_search(index, vectors[:split], vectors[split:])
        name, steps = "ef_search", ann_tune.EF_SEARCH_STEPS
    index.add(vectors[split:])
    if setting is None:
        reason = (
            f"{kind.upper()} reached recall@10 {recall:.3f} < {ann_tune.MIN_RECALL} even at {name} "
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


def hnsw_search(index: Any, queries: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    params = faiss.SearchParametersHNSW(efSearch=int(max(ef_search, k)))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def ivf_search(index: Any, queries: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    params = faiss.SearchParametersIVF(nprobe=int(nprobe))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)


def search_ann(built: BuiltIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of prepared queries: (Q, k') scores and ids, best first; FAISS's -1 padding is left as is."""
    index, params = built.index, built.params
    if built.index_type == IndexType.HNSW:
        return hnsw_search(index, queries, min(k, index.ntotal), int(params.get("ef_search", 64)))
    if built.index_type == IndexType.IVF:
        return ivf_search(index, queries, min(k, index.ntotal), int(params.get("nprobe", 32)))
    if built.index_type == IndexType.IVFPQ:
        from core.index import ann_compressed

        nprobe, candidates = int(params.get("nprobe", 32)), int(params.get("candidates", 200))
        return ann_compressed.search(index, built.rerank, queries, k, nprobe, candidates)  # type: ignore[arg-type]
    return exact_search(vectors_of(index), queries, k)


def vectors_at(index: Any, rows: Any) -> np.ndarray:
    """(len(rows), D) copy of the stored vectors of `rows`, whatever the index type."""
    faiss = _faiss()
    index = faiss.downcast_index(index)
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if isinstance(index, faiss.IndexIVF):
        if index.direct_map.type == faiss.DirectMap.NoMap:
            index.make_direct_map()
        return index.reconstruct_batch(rows)
    return np.array(vectors_of(index)[rows])


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
