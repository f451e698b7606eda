"""Loading an index (checked, cached, memory-mapped when large) and searching it.

Any query goes to any index whose model embedded it: a text or an image (a sketch is an image) to an
image index, a text or an image to a text index. Results are cosine similarities, best first, with
FAISS's `-1` padding removed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings, get_settings
from core.errors import IndexLoadError, IndexMismatchError, InvalidInputError
from core.index import ann
from core.index.compat import check_compatible, check_settings
from core.index.layout import INDEX_FILE, Kind
from core.index.loaded import LoadedIndex
from core.index.manifest import Manifest
from core.index.store import IndexStore
from core.vectors import normalize

#: What `search` accepts as one query: a text, an image (PIL, or a path to an image file), or a vector.
Query = str | Image.Image | os.PathLike | np.ndarray


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        id: Row of the item in the index (its FAISS id and its line in metadata.jsonl).
        score: Cosine similarity to the query.
        key: Stable name of the item across builds (relative path, "row:12", "text:<hash>#1").
        metadata: User-facing fields: `path` (folders) or `row` (datasets) or `text` (text indexes),
            `width`/`height` of images, and fields such as title, artist, style, genre, caption.
        thumbnail: Absolute path of the item's display thumbnail (image indexes), else None.
    """

    id: int
    score: float
    key: str
    metadata: dict[str, Any]
    thumbnail: Path | None


def hit_of(index: LoadedIndex, row: int, score: float) -> Hit:
    data = index.rows[row]
    return Hit(
        id=row,
        score=float(score),
        key=data["_key"],
        metadata={k: v for k, v in data.items() if not k.startswith("_")},
        thumbnail=index.thumbnail(data.get("_thumbnail")),
    )


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
            of `ann.MMAP_MIN_BYTES` or more. (A compressed index's float16 vectors are always
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
    return int(record.get("bytes", 0)) >= ann.MMAP_MIN_BYTES


def search(
    index: LoadedIndex | str,
    query: Query,
    k: int = 10,
    *,
    language: str | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """The `k` items of `index` nearest to one query, best first.

    Args:
        index: A LoadedIndex, or an index name (loaded with `load_index`).
        query: A text, a PIL image (a sketch too), a path to an image file, or a vector of the index's
            dimension (normalised here exactly as the indexed vectors were). Texts and images are
            embedded with the index's own model.
        k: Number of results (fewer when the index holds fewer items).
        language: Source-language code of a text query, for models that need one (NLLB-CLIP);
            default: the language a text index was built with.
        settings: Used to load the index (by name) and the model.

    Returns:
        Up to k Hits, scores descending.

    Raises:
        InvalidInputError: empty text, unreadable image, k < 1, or several query vectors.
        IndexMismatchError: a vector of the wrong dimension, or the model the settings load for the
            index's key is not the checkpoint the index was built with.
        IndexLoadError, ModelLoadError: as `load_index` and `get_encoder`.
    """
    vectors = np.asarray(query) if isinstance(query, np.ndarray) else None
    if vectors is not None and vectors.ndim == 2 and len(vectors) != 1:
        raise InvalidInputError(f"search() takes one query; got {len(vectors)} vectors (use search_batch).")
    loaded = index if isinstance(index, LoadedIndex) else load_index(index, settings=settings)
    return search_batch(loaded, embed_query(loaded, query, language=language, settings=settings), k)[0]


def search_batch(index: LoadedIndex | str, vectors: np.ndarray, k: int = 10) -> list[list[Hit]]:
    """The `k` nearest items for each row of `vectors` (Q, D), best first.

    Raises:
        IndexMismatchError: the vectors do not have the index's dimension.
        InvalidInputError: k < 1, or NaN/infinite values.
    """
    loaded = index if isinstance(index, LoadedIndex) else load_index(index)
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a whole number of at least 1, got {k!r}.")
    queries = prepare_vectors(vectors, loaded.dim)
    scores, ids = ann.search_ann(loaded.built, queries, k)
    return [
        [hit_of(loaded, int(i), s) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0]
        for row_scores, row_ids in zip(scores, ids, strict=True)
    ]


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


def embed_query(
    index: LoadedIndex, query: Query, *, language: str | None = None, settings: Settings | None = None
) -> np.ndarray:
    """Embed a text or image query with the index's model; a vector is returned as (1, D) float32.

    Raises:
        InvalidInputError: empty text, unreadable image, unsupported type.
        IndexMismatchError: the model loaded for the index's key is not the one it was built with.
    """
    if isinstance(query, np.ndarray):
        return query.reshape(1, -1) if query.ndim == 1 else query
    if isinstance(query, str):
        if not query.strip():
            raise InvalidInputError("The query text is empty. Type what to search for.")
        language = language or (index.manifest.language if index.kind == Kind.TEXT else None)
        return _encoder(index, settings).embed_texts([query], language=language)
    if isinstance(query, os.PathLike):
        from core.images import open_image

        query = open_image(query)
    if isinstance(query, Image.Image):
        return _encoder(index, settings).embed_images([query])
    raise InvalidInputError(
        f"Cannot search with a {type(query).__name__}: give a text, an image or a vector."
    )


def _encoder(index: LoadedIndex, settings: Settings | None) -> Any:
    from core.encoders import get_encoder

    encoder = get_encoder(index.model_key, settings)
    check_compatible(index.manifest, encoder.key, encoder.model_id, encoder.dim)
    return encoder


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


def clear_cache() -> None:
    """Forget every loaded index."""
    with _cache_lock:
        _cache.clear()
