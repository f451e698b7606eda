"""Searching any built index: exact (a BLAS product over FAISS's stored vectors), HNSW, IVF, IVF-PQ."""

from __future__ import annotations

import numpy as np

from core.index.ann.basics import BuiltIndex, IndexType, vectors_of
from core.index.ann.compressed import search_reranked
from core.index.ann.exact import exact_search
from core.index.ann.graph import hnsw_search, ivf_search


def search_ann(built: BuiltIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of prepared queries: (Q, k') scores and ids, best first; FAISS's -1 padding is left as is."""
    index, params = built.index, built.params
    if built.index_type == IndexType.HNSW:
        return hnsw_search(index, queries, min(k, index.ntotal), int(params.get("ef_search", 64)))
    if built.index_type == IndexType.IVF:
        return ivf_search(index, queries, min(k, index.ntotal), int(params.get("nprobe", 32)))
    if built.index_type == IndexType.IVFPQ:
        nprobe, candidates = int(params.get("nprobe", 32)), int(params.get("candidates", 200))
        return search_reranked(index, built.rerank, queries, k, nprobe, candidates)  # type: ignore[arg-type]
    return exact_search(vectors_of(index), queries, k)
