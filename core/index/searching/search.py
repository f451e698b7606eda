"""Searching an index: one query, a batch of query vectors, or more like an item of the index.

Any query goes to any index whose model embedded it: a text or an image (a sketch is an image) to an
image index, a text or an image to a text index. Results are cosine similarities, best first, with
FAISS's `-1` padding removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings
from core.errors import InvalidInputError
from core.index.ann import search_ann, vectors_at
from core.index.format.loaded import LoadedIndex
from core.index.searching import filters
from core.index.searching.filters import Where
from core.index.searching.load import load_index
from core.index.searching.query import Query, check_min_score, embed_query, prepare_vectors
from core.index.searching.target import Searchable, loaded_of
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


def search(
    index: Searchable | str,
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
        index: A SearchTarget (`resolve.open_index`: the model was looked up and checked once), a
            LoadedIndex, or an index name (loaded with `load_index`).
        query: A text, a PIL image (a sketch too), a path to an image file, or a vector of the index's
            dimension (normalised here exactly as the indexed vectors were). Texts and images are
            embedded with the index's own model.
        k: Number of results (fewer when the index holds fewer items).
        language: Source-language code of a text query, for models that need one (NLLB-CLIP);
            default: the language a text index was built with.
        settings: Used to load the index (by name) and the model.
        where, min_score: Only items whose metadata match `where` (see `core.index.searching.filters`) and
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
    target = load_index(index, settings=settings) if isinstance(index, str) else index
    vector = embed_query(target, query, language=language, settings=settings)
    return search_batch(loaded_of(target), vector, k, where=where, min_score=min_score)[0]


def search_batch(
    index: Searchable | str,
    vectors: np.ndarray,
    k: int = 10,
    *,
    where: Where | None = None,
    min_score: float | None = None,
) -> list[list[Hit]]:
    """The `k` nearest items for each row of `vectors` (Q, D), best first.

    Args:
        where: Search only the items whose metadata match (`{"style": {"Realism"}}`; see
            `core.index.searching.filters`), so k of them come back whenever k match.
        min_score: Leave out items scoring below it (a cosine similarity, -1 to 1).

    Raises:
        IndexMismatchError: the vectors do not have the index's dimension.
        InvalidInputError: k < 1, NaN/infinite values, a column the index lacks, or a bad minimum.
    """
    loaded = load_index(index) if isinstance(index, str) else loaded_of(index)
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a whole number of at least 1, got {quote(k)}.")
    floor = check_min_score(min_score)
    queries = prepare_vectors(vectors, loaded.dim)
    rows = filters.matching_rows(loaded, where)
    if rows is None:
        scores, ids = search_ann(loaded.built, queries, k)
    else:
        scores, ids = filters.search_rows(loaded.built, queries, k, rows)
    return [
        [hit_of(loaded, int(i), s) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0 and s >= floor]
        for row_scores, row_ids in zip(scores, ids, strict=True)
    ]


def similar(
    index: Searchable | str,
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
    loaded = load_index(index, settings=settings) if isinstance(index, str) else loaded_of(index)
    row = item_row(loaded, item)
    if row is None or not 0 <= row < len(loaded):
        raise InvalidInputError(
            f"Index '{loaded.name}' has no item {quote(item)}: give the key (or row) of one of its "
            "search results."
        )
    vector = vectors_at(loaded.faiss_index, [row])
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
