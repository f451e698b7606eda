"""The FAISS basics every other room of `core.index.ann` builds on: importing FAISS (on first use only),
the index types, a built index with its parameters, flat indexes, and reading vectors back.

Every vector is L2-normalised float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np


def load_faiss() -> Any:
    """The `faiss` module, imported on first use (importing `core.index` must not import FAISS)."""
    # FAISS logs each CPU-specific library it tries at INFO; the CLI's INFO logging would show them all.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


class IndexType(str, Enum):
    """The FAISS index of a version: exact, or one of the approximate ones."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"
    IVFPQ = "ivfpq"

    def __str__(self) -> str:
        return self.value


@dataclass
class BuiltIndex:
    """A FAISS index with its type and the parameters recorded in the manifest; a compressed one with
    the vectors that re-rank it (float32 while built, the float16 file's memory map once loaded)."""

    index: Any
    index_type: IndexType
    params: dict[str, Any]
    rerank: np.ndarray | None = None


def flat_index(vectors: np.ndarray) -> Any:
    """An exact `IndexFlatIP` holding `vectors` (row i gets id i)."""
    faiss = load_faiss()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def ivf_of(index: Any) -> Any:
    """The index itself, or the IVF index behind an OPQ rotation (`IndexPreTransform`)."""
    faiss = load_faiss()
    index = faiss.downcast_index(index)
    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index


def vectors_at(index: Any, rows: Any) -> np.ndarray:
    """(len(rows), D) copy of the stored vectors of `rows`, whatever the index type."""
    faiss = load_faiss()
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
    faiss = load_faiss()
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
