"""Compressed indexes for millions of rows: IVF-PQ within a memory budget, re-ranked from float16 vectors.

An IVF-PQ index keeps `m` bytes per row (product-quantised residuals to its inverted list's centroid)
and the row's 8-byte id. A search scans `nprobe` lists with those codes and takes the `candidates`
best rows, which are re-ranked by exact inner product with their float16 vectors: `vectors.f16.npy`
beside the index in the version folder, memory-mapped, so they live in the OS page cache rather than
in the process (the process reads `candidates` rows per query). `m` is the largest code size whose
index fits the memory budget, at most dim/8 (8 dimensions per sub-quantiser: measured on clustered
768-d rows, recall@10 after re-ranking was 0.75 at m=32, 0.985 at m=64 and 0.997 at m=96). The k-means
and PQ codebooks are trained on a fixed sample and rows are added in chunks, so a build never holds
more than a chunk beyond the index itself; `nprobe` and `candidates` are tuned on held-out rows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.index.ann import tuning
from core.index.ann.basics import BuiltIndex, IndexType, ivf_of, load_faiss
from core.index.ann.exact import exact_search
from core.index.ann.graph import ivf_lists

log = logging.getLogger(__name__)

#: Dimensions per sub-quantiser, at least: the largest code is dim / this (96 bytes for 768-d).
MIN_SUB_DIMENSIONS = 8
#: Candidates re-ranked per query, tried smallest first for each nprobe.
CANDIDATE_STEPS = (50, 100, 200, 400, 800)
#: Fewest rows to train 256 centroids per sub-quantiser (FAISS asks for 39 per centroid).
MIN_PQ_TRAINING_ROWS = 256 * 39
#: Training sample: rows per inverted list (as IVF-Flat), and at least this many for the codebooks.
TRAINING_ROWS_PER_LIST = 40
PQ_TRAINING_ROWS = 65_536
#: Rows added to the index at a time.
CHUNK_ROWS = 65_536


def index_bytes(count: int, dim: int, nlist: int, m: int) -> int:
    """RAM of an IVF-PQ index when searched: codes and ids, centroids, codebooks."""
    return count * (m + 8) + nlist * dim * 4 + 256 * dim * 4


def code_size(count: int, dim: int, nlist: int, budget: int) -> int:
    """The largest code size `m` (a divisor of `dim`, at most dim/8) whose index fits `budget` bytes.

    Raises:
        InvalidInputError: not even a 1-byte code fits.
    """
    for m in range(max(1, dim // MIN_SUB_DIMENSIONS), 0, -1):
        if dim % m == 0 and index_bytes(count, dim, nlist, m) <= budget:
            return m
    need = index_bytes(count, dim, nlist, 1)
    raise InvalidInputError(
        f"A memory budget of {budget / 2**20:.0f} MB is too small for {count:,} rows of {dim} dimensions: "
        f"the smallest compressed index needs {need / 2**20:.0f} MB. Raise --memory-budget."
    )


def build_compressed(
    vectors: np.ndarray, budget: int, *, base: BuiltIndex | None = None, opq: bool = False
) -> BuiltIndex:
    """An IVF-PQ index of `vectors` within `budget` bytes, tuned on held-out rows; with `base` (an
    earlier compressed build whose rows are the first rows of `vectors`, with a code size that still
    fits), only the new rows are added to it.

    Raises:
        InvalidInputError: the budget is too small for any code size.
    """
    count, dim = vectors.shape
    nlist = ivf_lists(count)
    m = code_size(count, dim, nlist, budget)
    reusable = (
        base is not None
        and base.index_type == IndexType.IVFPQ
        and base.params.get("m", dim) <= m
        and bool(base.params.get("opq")) == opq
        and base.index.ntotal <= count
    )
    start = base.index.ntotal if reusable else 0  # type: ignore[union-attr]
    held_out = min(tuning.RECALL_QUERIES, (count - start) // 5)
    if reusable and held_out < tuning.MIN_HELD_OUT:  # too few new rows to measure: keep the setting
        add_in_chunks(base.index, vectors, start, count)  # type: ignore[union-attr]
        return BuiltIndex(base.index, IndexType.IVFPQ, dict(base.params), rerank=vectors)  # type: ignore[union-attr]
    if reusable:
        index, nlist, m = base.index, int(base.params["nlist"]), int(base.params["m"])  # type: ignore[union-attr]
    else:
        index = train_ivfpq(vectors[: count - held_out], nlist, m, opq)
    split = count - held_out
    add_in_chunks(index, vectors, start, split)
    setting, recall = tune_compressed(index, vectors, split)
    add_in_chunks(index, vectors, split, count)
    nprobe, candidates = setting or (tuning.NPROBE_STEPS[-1], CANDIDATE_STEPS[-1])
    params: dict[str, Any] = {
        "nlist": nlist, "m": m, "opq": opq, "nprobe": nprobe, "candidates": candidates,
        "recall_at_10": round(recall, 4), "recall_queries": held_out, "memory_budget": budget,
        "index_bytes": index_bytes(count, dim, nlist, m),
    }  # fmt: skip
    if recall < tuning.MIN_RECALL:
        params["below_target"] = (
            f"recall@10 {recall:.3f} < {tuning.MIN_RECALL} at the largest search breadth: {m}-byte codes "
            "are too coarse for these rows; a larger memory budget allows larger codes."
        )
        log.warning(params["below_target"])
    return BuiltIndex(index, IndexType.IVFPQ, params, rerank=vectors)


def train_ivfpq(vectors: np.ndarray, nlist: int, m: int, opq: bool = False) -> Any:
    """An empty IVF-PQ index (optionally behind an OPQ rotation) trained on a fixed sample of rows."""
    faiss = load_faiss()
    count, dim = vectors.shape
    size = min(count, max(TRAINING_ROWS_PER_LIST * nlist, PQ_TRAINING_ROWS))
    rows = np.sort(np.random.default_rng(0).choice(count, size, replace=False))
    sample = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = 0
    ivf.pq.cp.seed = 0
    index = faiss.IndexPreTransform(faiss.OPQMatrix(dim, m), ivf) if opq else ivf
    index.train(sample)
    return index


def add_in_chunks(index: Any, vectors: np.ndarray, start: int, stop: int) -> None:
    for first in range(start, stop, CHUNK_ROWS):
        last = min(stop, first + CHUNK_ROWS)
        index.add(np.ascontiguousarray(vectors[first:last], dtype=np.float32))


def rerank_rows(vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Rows `ids` as the search scores them: float16 (as stored), in float32, L2-normalised again
    (rounding to float16 moves a unit vector's norm by up to ~5e-4: scores stay cosines, never > 1).
    Reading them in id order keeps a memory-mapped file's reads sequential."""
    rows = np.asarray(vectors[ids], dtype=np.float16).astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def search_reranked(
    index: Any, vectors: np.ndarray, queries: np.ndarray, k: int, nprobe: int, candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k: the `candidates` best rows by PQ codes, re-ranked by exact inner product with their
    float16 vectors. (Q, k) scores and ids, best first, ties by smaller id; -1 pads missing rows."""
    faiss = load_faiss()
    count = vectors.shape[0]
    depth = min(max(k, candidates), count)
    params = faiss.SearchParametersIVF(nprobe=int(nprobe))
    if isinstance(faiss.downcast_index(index), faiss.IndexPreTransform):
        params = faiss.SearchParametersPreTransform(index_params=params)
    _, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), depth, params=params)
    k = min(k, count)
    scores = np.full((len(queries), k), -np.inf, np.float32)
    ids = np.full((len(queries), k), -1, np.int64)
    for row, (query, candidate) in enumerate(zip(queries, found, strict=True)):
        candidate = np.unique(candidate[candidate >= 0])  # sorted: sequential reads
        exact = rerank_rows(vectors, candidate) @ query
        order = np.lexsort((candidate, -exact))[:k]
        scores[row, : len(order)], ids[row, : len(order)] = exact[order], candidate[order]
    return scores, ids


def tune_compressed(
    index: Any, vectors: np.ndarray, split: int, k: int = 10, target: float = tuning.TUNING_RECALL
) -> tuple[tuple[int, int] | None, float]:
    """The fastest (nprobe, candidates) reaching recall@k `target` on held-out rows `split:` (not in
    `index`) against exact search over rows `:split`: for each nprobe, the fewest candidates that reach
    it, timed; widening stops once a wider nprobe is slower than the fastest setting found. (Taking the
    first setting in nprobe order chose 400 candidates at 5M rows, where more lists need fewer.)
    Without any setting reaching `target`: the one of highest recall."""
    queries = np.ascontiguousarray(vectors[split:], dtype=np.float32)
    depth = min(k, split)
    truth, _ = exact_search(vectors[:split], queries, depth)
    best: tuple[float, tuple[int, int] | None] = (0.0, None)  # (recall, setting)
    fastest: tuple[float, tuple[int, int], float] | None = None  # (seconds, setting, recall)
    for nprobe in sorted({min(step, ivf_of(index).nlist) for step in tuning.NPROBE_STEPS}):
        for candidates in CANDIDATE_STEPS:
            started = time.perf_counter()
            _, found = search_reranked(index, vectors[:split], queries, depth, nprobe, candidates)
            seconds = time.perf_counter() - started
            reached = tuning.tied_recall_at(found, queries, vectors[:split], truth)
            best = max(best, (reached, (nprobe, candidates)), key=lambda pair: pair[0])
            if reached >= target:
                if fastest is None or seconds < fastest[0]:
                    fastest = (seconds, (nprobe, candidates), reached)
                break
        if fastest is not None and seconds > fastest[0]:
            break
    return (fastest[1], fastest[2]) if fastest is not None else (best[1], best[0])
