"""What a search looks for: one text, image or vector, or several combined, as one query vector.

A combined query weighs its parts and subtracts the negative ones:

    q = normalise( sum_i w_i * e_i  -  sum_j w_j * n_j )

where e_i are the embeddings of the positive parts (texts, images, drawings, stored vectors), n_j those
of the negative parts, and each embedding is L2-normalised by its model. "This sketch, as a
watercolour" is a drawing plus a text; "beach, without people" is the text `beach` minus `people`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders import Encoder, get_encoder
from core.errors import IndexMismatchError, InvalidInputError
from core.images import open_query_image
from core.index.format.compat import check_compatible
from core.index.format.layout import Kind
from core.index.searching.target import Searchable, SearchTarget, loaded_of
from core.limits import check_query, quote
from core.vectors import normalize

#: What `search` accepts as one query: a text, an image (PIL, or a path to an image file), or a vector.
Query = str | Image.Image | os.PathLike | np.ndarray
#: Most parts one combined query takes, and the largest weight of one part.
MAX_PARTS = 16
MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class QueryPart:
    """One part of a combined query: what it is, its weight, and whether it is subtracted."""

    query: Query
    weight: float = 1.0
    negative: bool = False


def combine_parts(
    index: Searchable,
    parts: Sequence[QueryPart],
    *,
    language: str | None = None,
    settings: Settings | None = None,
) -> np.ndarray:
    """The (1, D) query vector of `parts`: normalise(sum of w * e over positive parts - sum of w * n
    over negative parts), each part embedded by the index's model.

    Raises:
        InvalidInputError: no positive part with a weight above 0, too many parts, a weight that is not
            a number from 0 to MAX_WEIGHT, parts that cancel out, or a part that cannot be embedded.
        IndexMismatchError: as `embed_query`.
    """
    if len(parts) > MAX_PARTS:
        raise InvalidInputError(f"{len(parts)} query parts given; at most {MAX_PARTS} are combined.")
    for part in parts:
        check_weight(part.weight)
    if not any(not part.negative and part.weight > 0 for part in parts):
        raise InvalidInputError(
            "Give at least one thing to search for (a text, a picture or a drawing) with a weight above "
            "0; what to leave out is subtracted from it."
        )
    dim = loaded_of(index).dim
    total = np.zeros(dim, np.float64)
    for part in parts:
        if part.weight == 0:
            continue
        embedded = embed_query(index, part.query, language=language, settings=settings)
        vector = prepare_vectors(embedded, dim)[0].astype(np.float64)
        total += (-part.weight if part.negative else part.weight) * vector
    if np.linalg.norm(total) < 1e-6:
        raise InvalidInputError("The query parts cancel each other out. Change a weight or a part.")
    return normalize(total.astype(np.float32)[None, :])


def check_weight(weight: Any) -> float:
    """Return `weight` as a float if it is a number from 0 to MAX_WEIGHT.

    Raises:
        InvalidInputError: not a number, negative, too large, or not finite.
    """
    try:
        value = float(weight)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= MAX_WEIGHT:
        raise InvalidInputError(
            f"A query weight must be a number from 0 to {MAX_WEIGHT:g}, got {quote(weight)}. "
            "Leave a part out with weight 0."
        )
    return value


def parse_weights(text: str | None, count: int) -> list[float]:
    """`"0.5,0.5"` -> the weights of `count` parts, in order; parts without one get 1.0.

    Raises:
        InvalidInputError: more weights than parts, or one that is not a number from 0 to MAX_WEIGHT.
    """
    if not text or not text.strip():
        return [1.0] * count
    values = [value.strip() for value in text.split(",")]
    if len(values) > count:
        raise InvalidInputError(
            f"{len(values)} weights given for {count} query parts; give at most one per --text, --image "
            "and --negative, in that order."
        )
    return [check_weight(value) for value in values] + [1.0] * (count - len(values))


def check_min_score(min_score: Any) -> float:
    """The lowest score to keep: `min_score` as a float from -1 to 1 (None: keep all).

    Raises:
        InvalidInputError: not a number, or outside -1..1.
    """
    if min_score is None:
        return -np.inf
    try:
        value = float(min_score)
    except (TypeError, ValueError):
        value = np.nan
    if not -1.0 <= value <= 1.0:
        raise InvalidInputError(
            f"The minimum score must be a number from -1 to 1 (a cosine similarity), got {quote(min_score)}."
        )
    return value


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
    index: Searchable, query: Query, *, language: str | None = None, settings: Settings | None = None
) -> np.ndarray:
    """Embed a text or image query with the index's model; a vector is returned as (1, D) float32.

    Args:
        index: A `SearchTarget` (its model was checked when it was opened), or a `LoadedIndex`, whose
            model key is then loaded with `settings` and checked against the index.

    Raises:
        InvalidInputError: empty text, unreadable image, unsupported type.
        IndexMismatchError: the model loaded for the index's key is not the one it was built with.
    """
    if isinstance(query, np.ndarray):
        return query.reshape(1, -1) if query.ndim == 1 else query
    loaded = loaded_of(index)
    if isinstance(query, str):
        if not check_query(query).strip():
            raise InvalidInputError("The query text is empty. Type what to search for.")
        language = language or (loaded.manifest.language if loaded.kind == Kind.TEXT else None)
        return _encoder(index, settings).embed_texts([query], language=language)
    if isinstance(query, os.PathLike):
        query = open_query_image(query)
    if isinstance(query, Image.Image):
        return _encoder(index, settings).embed_images([query])
    raise InvalidInputError(
        f"Cannot search with a {type(query).__name__}: give a text, an image or a vector."
    )


def _encoder(index: Searchable, settings: Settings | None) -> Encoder:
    """The target's model, or the loaded index's own, checked against it (once per query)."""
    if isinstance(index, SearchTarget):
        return index.encoder()
    encoder = get_encoder(index.model_key, settings)
    check_compatible(index.manifest, encoder.key, encoder.model_id, encoder.dim)
    return encoder
