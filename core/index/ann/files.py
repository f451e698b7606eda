"""FAISS index files and the float16 vectors beside a compressed index: writing them (a full disk is
an OSError), reading them (memory-mapped), and what a file really holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.index.ann.basics import ivf_of, load_faiss

#: Rows of the float16 re-rank file written at a time (bounded memory for millions of rows).
RERANK_CHUNK_ROWS = 65_536


def write_ann(index: Any, path: Path) -> None:
    # Through a Python file object: a full disk then raises OSError (ENOSPC), which the build reports as
    # such. FAISS's own file writer raises RuntimeError instead, or when only its final flush fails,
    # prints "close error" and returns, leaving a truncated file.
    faiss = load_faiss()
    with open(path, "wb") as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))


def read_ann(path: Path, mmap: bool) -> Any:
    """Read an index file; with `mmap`, its vectors (and graph) stay on disk and are paged in on use."""
    faiss = load_faiss()
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)


def ann_shape(index: Any) -> tuple[str, int, int]:
    """(type, dimension, row count) of a FAISS index read from disk; the type names what the file
    really holds ("flat", "hnsw", "ivf", "ivfpq", or FAISS's class name, marked when not inner
    product)."""
    faiss = load_faiss()
    index = faiss.downcast_index(index)
    if isinstance(ivf_of(index), faiss.IndexIVFPQ):
        kind = "ivfpq"
    elif isinstance(index, faiss.IndexHNSW):
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


def write_rerank(vectors: np.ndarray, path: Path) -> None:
    """Write `vectors` as a float16 `.npy` file, a chunk at a time."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=vectors.shape)
    for first in range(0, len(vectors), RERANK_CHUNK_ROWS):
        out[first : first + RERANK_CHUNK_ROWS] = vectors[first : first + RERANK_CHUNK_ROWS]
    out.flush()
    del out


def read_rerank(path: Path) -> np.ndarray:
    """The float16 vectors of a compressed index, memory-mapped read-only."""
    return np.load(path, mmap_mode="r", allow_pickle=False)
