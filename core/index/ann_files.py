"""FAISS index files: writing them (a full disk is an OSError), reading them (memory-mapped), and what
a file really holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _faiss() -> Any:
    from core.index.ann import _faiss

    return _faiss()


def write_ann(index: Any, path: Path) -> None:
    # Through a Python file object: a full disk then raises OSError (ENOSPC), which the build reports as
    # such. FAISS's own file writer raises RuntimeError instead, or when only its final flush fails,
    # prints "close error" and returns, leaving a truncated file.
    faiss = _faiss()
    with open(path, "wb") as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))


def read_ann(path: Path, mmap: bool) -> Any:
    """Read an index file; with `mmap`, its vectors (and graph) stay on disk and are paged in on use."""
    faiss = _faiss()
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)


def ann_shape(index: Any) -> tuple[str, int, int]:
    """(type, dimension, row count) of a FAISS index read from disk; the type names what the file
    really holds ("flat", "hnsw", "ivf", or FAISS's class name, marked when not inner product)."""
    from core.index.ann_compressed import ivf_of

    faiss = _faiss()
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
