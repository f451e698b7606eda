"""Loading an index for searching: checked against its manifest, cached once per version, memory-mapped
when large. The one entry point is `load_index`; `core.index.searching.resolve` opens the index a
request asks for through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings, get_settings
from core.errors import IndexLoadError
from core.index.format.compat import check_settings
from core.index.format.layout import INDEX_FILE
from core.index.format.loaded import LoadedIndex
from core.index.format.manifest import Manifest
from core.index.format.store import IndexStore

#: Index files at least this large are memory-mapped instead of read into memory (load_index default).
MMAP_MIN_BYTES = 256 * 1024 * 1024


@dataclass
class _Cached:
    """The loaded forms (in memory, memory-mapped) of one version of an index, and its manifest."""

    stamp: tuple[tuple[int, int, int], ...]
    manifest: Manifest
    loaded: dict[bool, LoadedIndex]


_cache: dict[Path, _Cached] = {}
_cache_lock = threading.Lock()


def load_index(
    name: str,
    model_key: str | None = None,
    settings: Settings | None = None,
    *,
    mmap: bool | None = None,
    verify: bool | str = True,
) -> LoadedIndex:
    """Load index `name` from the index folder, once per version (later calls return the cached one,
    after a few `stat` calls that tell whether a build replaced it).

    Args:
        name: Index name (a folder of `settings.index_dir`).
        model_key: The model the caller will query with. When given, the index must have been built
            with that key and the checkpoint the settings load for it.
        settings: Index folder and model overrides; default: the process settings.
        mmap: Memory-map the FAISS index instead of reading it into memory; default: for index files
            of `MMAP_MIN_BYTES` or more. (A compressed index's float16 vectors are always
            memory-mapped, and metadata files above 64 MiB are read on access.)
        verify: Check the data files against the manifest: True: their size and sha256, or for files
            above `fsio.FULL_VERIFY_BYTES` (512 MiB) a sha256 of 64 sampled blocks (hashing GBs
            would take seconds per load); "full": every byte (as `index info --verify`); False: no.

    Returns:
        The LoadedIndex.

    Raises:
        IndexLoadError: no such index (the message says how to build it), an unfinished build (how
            to resume it), or damaged files (how to rebuild it).
        IndexMismatchError: built with another model or checkpoint than `model_key`; names both.
        InvalidInputError: `name` is not a valid index name.
        UnknownModelError: `model_key` is not in the registry.
    """
    settings = settings or get_settings()
    store = IndexStore.named(name, settings)
    for attempt in range(2):
        stamp = store.stamp()
        with _cache_lock:
            cached = _cache.get(store.folder)
        if cached is None or cached.stamp != stamp:
            cached = _Cached(stamp, store.manifest(), {})
        if model_key is not None:
            check_settings(cached.manifest, model_key, settings)
        use_mmap = mmap if mmap is not None else _is_large(cached.manifest)
        loaded = cached.loaded.get(use_mmap)
        if loaded is not None:
            if verify and loaded.verified not in (("full",) if verify == "full" else ("full", "sampled")):
                loaded.verified = store.verify_files(cached.manifest, full=verify == "full")
            return loaded
        try:
            loaded = store.read(mmap=use_mmap, verify=verify)
        except IndexLoadError:
            if attempt == 0 and store.stamp() != stamp:
                continue  # a build replaced the version while we read it: read the new one
            raise
        cached.loaded[use_mmap] = loaded
        with _cache_lock:
            _cache[store.folder] = cached
        return loaded
    raise AssertionError("unreachable")


def _is_large(manifest: Manifest) -> bool:
    record = manifest.files.get(f"{manifest.data_dir}/{INDEX_FILE}", {})
    return int(record.get("bytes", 0)) >= MMAP_MIN_BYTES


def verify_index(name: str, settings: Settings | None = None) -> None:
    """Check an index fully: manifest, data files (sha256), structure, and every thumbnail.

    Raises:
        IndexLoadError: with every problem found and how to rebuild.
    """
    IndexStore.named(name, settings).verify()


def as_hf_dataset(index: LoadedIndex | str, column: str = "embeddings") -> Any:
    """The index's metadata as a `datasets.Dataset` with its FAISS index attached under `column`,
    so `dataset.get_nearest_examples(column, query_vector, k)` searches it."""
    from datasets import Dataset

    loaded = index if isinstance(index, LoadedIndex) else load_index(index)
    dataset = Dataset.from_list(list(loaded.rows))
    dataset.load_faiss_index(column, loaded.index_file)
    return dataset


def clear_cache(folder: Path | None = None) -> None:
    """Forget every loaded index (or the one in `folder`)."""
    with _cache_lock:
        if folder is None:
            _cache.clear()
        else:
            _cache.pop(folder, None)
