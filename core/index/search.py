"""Loading an index (checked, cached, memory-mapped when large) and searching it.

Any query goes to any index whose model embedded it: a text or an image (a sketch is an image) to an
image index, a text or an image to a text index. Results are cosine similarities, best first, with
FAISS's `-1` padding removed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings, get_settings
from core.errors import IndexLoadError, InvalidInputError
from core.index import ann, filters
from core.index.compat import check_settings
from core.index.filters import Where
from core.index.layout import INDEX_FILE
from core.index.loaded import LoadedIndex
from core.index.manifest import Manifest
from core.index.query import Query, check_min_score, embed_query, prepare_vectors
from core.index.store import IndexStore
from core.limits import quote


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
    where: Where | None = None,
    min_score: float | None = None,
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
        where, min_score: Only items whose metadata match `where` (see `core.index.filters`) and
            whose score is at least `min_score`, as `search_batch`.

    Returns:
        Up to k Hits, scores descending.

    Raises:
        InvalidInputError: empty text, unreadable image, k < 1, several query vectors, or a bad
            filter or minimum score.
        IndexMismatchError: a vector of the wrong dimension, or the model the settings load for the
            index's key is not the checkpoint the index was built with.
        IndexLoadError, ModelLoadError: as `load_index` and `get_encoder`.
    """
    vectors = np.asarray(query) if isinstance(query, np.ndarray) else None
    if vectors is not None and vectors.ndim == 2 and len(vectors) != 1:
        raise InvalidInputError(f"search() takes one query; got {len(vectors)} vectors (use search_batch).")
    loaded = index if isinstance(index, LoadedIndex) else load_index(index, settings=settings)
    vector = embed_query(loaded, query, language=language, settings=settings)
    return search_batch(loaded, vector, k, where=where, min_score=min_score)[0]


def search_batch(
    index: LoadedIndex | str,
    vectors: np.ndarray,
    k: int = 10,
    *,
    where: Where | None = None,
    min_score: float | None = None,
) -> list[list[Hit]]:
    """The `k` nearest items for each row of `vectors` (Q, D), best first.

    Args:
        where: Search only the items whose metadata match (`{"style": {"Realism"}}`; see
            `core.index.filters`), so k of them come back whenever k match.
        min_score: Leave out items scoring below it (a cosine similarity, -1 to 1).

    Raises:
        IndexMismatchError: the vectors do not have the index's dimension.
        InvalidInputError: k < 1, NaN/infinite values, a column the index lacks, or a bad minimum.
    """
    loaded = index if isinstance(index, LoadedIndex) else load_index(index)
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a whole number of at least 1, got {quote(k)}.")
    floor = check_min_score(min_score)
    queries = prepare_vectors(vectors, loaded.dim)
    rows = filters.matching_rows(loaded, where)
    if rows is None:
        scores, ids = ann.search_ann(loaded.built, queries, k)
    else:
        scores, ids = filters.search_rows(loaded.built, queries, k, rows)
    return [
        [hit_of(loaded, int(i), s) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0 and s >= floor]
        for row_scores, row_ids in zip(scores, ids, strict=True)
    ]


def similar(
    index: LoadedIndex | str,
    item: str | int,
    k: int = 10,
    *,
    where: Where | None = None,
    min_score: float | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """More like this: the `k` items nearest to an item of the index, searched with its stored
    vector (nothing is embedded again). Unless a filter leaves it out, the item itself comes first.

    Args:
        item: The item's key (`Hit.key`), its row (`Hit.id`), or the file name (or path, or URL) of its
            thumbnail, as the app's galleries show it.
        where, min_score: As `search_batch`.

    Raises:
        InvalidInputError: no such item in the index, or bad k, filter or minimum score.
    """
    loaded = index if isinstance(index, LoadedIndex) else load_index(index, settings=settings)
    row = item_row(loaded, item)
    if row is None or not 0 <= row < len(loaded):
        raise InvalidInputError(
            f"Index '{loaded.name}' has no item {quote(item)}: give the key (or row) of one of its "
            "search results."
        )
    vector = ann.vectors_at(loaded.faiss_index, [row])
    return search_batch(loaded, vector, k, where=where, min_score=min_score)[0]


def item_row(index: LoadedIndex, item: Any) -> int | None:
    """The row of an item given by key, row number, or thumbnail file name / path / URL."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    if not isinstance(item, str):
        return None
    if item in index.row_of:
        return index.row_of[item]
    name = item.split("?", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
    return index.row_of_thumbnail.get(name)


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
