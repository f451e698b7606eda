"""FAISS indexes: which type for which size, building, tuning, reading, writing and searching them.

    basics      importing FAISS on first use; IndexType, BuiltIndex; flat indexes; reading vectors back
    exact       brute-force top-k (a BLAS product), the search of flat indexes and the tuning baseline
    tuning      recall@k on held-out rows (ties by score) and the smallest search breadth reaching it
    graph       HNSW and IVF-Flat: build (or extend), search, tune efSearch / nprobe
    compressed  IVF-PQ within a memory budget, re-ranked from float16 vectors; tuned (nprobe, candidates)
    build       build_ann: exact / HNSW / IVF / IVF-PQ by size and memory budget (the thresholds live here)
    search      search_ann: top-k of any built index
    files       index files (written through Python, so a full disk is an OSError), memory-mapped reads,
                the float16 re-rank file, what a file really holds (ann_shape)

Each module imports only those above it. Nothing here knows about manifests,
models or folders (`core.index.format` does). Importing this package does not import FAISS.
"""

from core.index.ann import tuning
from core.index.ann.basics import BuiltIndex, IndexType, flat_index, load_faiss, vectors_at, vectors_of
from core.index.ann.build import (
    COMPRESSED_THRESHOLD,
    DEFAULT_MEMORY_BUDGET,
    EXACT_THRESHOLD,
    IVF_THRESHOLD,
    build_ann,
    choose_type,
)
from core.index.ann.exact import exact_search
from core.index.ann.files import ann_shape, read_ann, read_rerank, write_ann, write_rerank
from core.index.ann.graph import HNSW_EF_CONSTRUCTION, HNSW_M, hnsw_search, ivf_lists, ivf_search
from core.index.ann.search import search_ann

__all__ = [
    "COMPRESSED_THRESHOLD",
    "DEFAULT_MEMORY_BUDGET",
    "EXACT_THRESHOLD",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "IVF_THRESHOLD",
    "BuiltIndex",
    "IndexType",
    "ann_shape",
    "build_ann",
    "choose_type",
    "exact_search",
    "flat_index",
    "hnsw_search",
    "ivf_lists",
    "ivf_search",
    "load_faiss",
    "read_ann",
    "read_rerank",
    "search_ann",
    "tuning",
    "vectors_at",
    "vectors_of",
    "write_ann",
    "write_rerank",
]
