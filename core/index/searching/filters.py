"""Metadata filters: which rows of an index a search may return.

A filter is exact match on metadata columns: `{"style": {"Impressionism", "Realism"}, "artist":
{"Claude Monet"}}` keeps the rows whose style is one of the two and whose artist is Claude Monet (values
of one column: any of them; several columns: all of them). Values are compared as text: strings as
they are, other JSON values as JSON (`12`, `true`). The search looks among the matching rows only, so
k results come back whenever k rows match.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.index.ann import EXACT_THRESHOLD, BuiltIndex, IndexType, exact_search, load_faiss, vectors_at
from core.index.format.loaded import LoadedIndex
from core.limits import quote

#: {column: accepted values}, as `parse_filters` makes it.
Where = Mapping[str, Iterable[str]]
#: Columns offered as filters have at most this many distinct values.
MAX_CHOICES_PER_COLUMN = 500
#: Most filter terms one search takes.
MAX_TERMS = 50
#: Fields an index computes for every image: not useful as filters.
HIDDEN_COLUMNS = frozenset({"width", "height", "path", "row", "text"})

ColumnRows = dict[str, dict[str, np.ndarray]]
_columns: weakref.WeakKeyDictionary[LoadedIndex, ColumnRows] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def value_text(value: Any) -> str:
    """How a metadata value is compared and shown: a string as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_filters(terms: Iterable[str] | str | None) -> dict[str, frozenset[str]]:
    """`["style=Impressionism", "artist=Claude Monet"]` (or one such string) -> {column: values}.

    Each term is `column=value`, split at the first `=`; spaces around both are dropped.

    Raises:
        InvalidInputError: a term without `=` or with an empty column, or too many terms.
    """
    if terms is None or terms == "":
        return {}
    terms = [terms] if isinstance(terms, str) else list(terms)
    if len(terms) > MAX_TERMS:
        raise InvalidInputError(f"{len(terms)} filters given; at most {MAX_TERMS} are applied at once.")
    where: dict[str, set[str]] = {}
    for term in terms:
        column, sep, value = str(term).partition("=")
        if not sep or not column.strip():
            raise InvalidInputError(
                f"The filter {quote(term)} is not column=value (for example style=Impressionism)."
            )
        where.setdefault(column.strip(), set()).add(value.strip())
    return {column: frozenset(values) for column, values in where.items()}


def column_rows(index: LoadedIndex) -> dict[str, dict[str, np.ndarray]]:
    """{column: {value as text: rows holding it}} over the public metadata columns (computed once
    per loaded version of an index)."""
    with _lock:
        cached = _columns.get(index)
    if cached is not None:
        return cached
    lists: dict[str, dict[str, list[int]]] = {}
    for row, data in enumerate(index.rows):
        for column, value in data.items():
            if not column.startswith("_") and value is not None:
                lists.setdefault(column, {}).setdefault(value_text(value), []).append(row)
    built = {
        column: {value: np.asarray(rows, np.int64) for value, rows in values.items()}
        for column, values in lists.items()
    }
    with _lock:
        _columns[index] = built
    return built


def matching_rows(index: LoadedIndex, where: Where | None) -> np.ndarray | None:
    """The sorted rows that pass `where` (None when there is no filter: every row).

    Raises:
        InvalidInputError: a column the index does not have (the message lists those it has).
    """
    if not where:
        return None
    columns = column_rows(index)
    selected: np.ndarray | None = None
    for column, values in where.items():
        if column not in columns:
            known = ", ".join(sorted(columns)) or "none"
            raise InvalidInputError(
                f"Index '{index.name}' has no metadata column {quote(column)}; its columns: {known}."
            )
        found = [columns[column][value] for value in values if value in columns[column]]
        rows = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        selected = rows if selected is None else np.intersect1d(selected, rows, assume_unique=True)
    return selected


def filter_choices(index: LoadedIndex) -> list[tuple[str, str]]:
    """(label, term) for each value of each column worth filtering on: `("style: Realism",
    "style=Realism")`, by column then by how many rows hold the value (most first)."""
    choices = []
    for column, values in sorted(column_rows(index).items()):
        if column in HIDDEN_COLUMNS or len(values) > MAX_CHOICES_PER_COLUMN:
            continue
        if len(values) == len(index) > 1:  # one value per row (titles, ids): nothing to group by
            continue
        for value, rows in sorted(values.items(), key=lambda item: (-len(item[1]), item[0])):
            choices.append((f"{column}: {value} ({len(rows)})", f"{column}={value}"))
    return choices


def search_rows(
    built: BuiltIndex,
    queries: np.ndarray,
    k: int,
    rows: np.ndarray,
    exact_rows: int = EXACT_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of prepared queries among the sorted index `rows` only: (Q, k') scores and ids.

    Exact over those rows up to `exact_rows` of them (and for exact indexes), which is the brute
    force; above, the approximate index with a FAISS selector, and exact again if that finds fewer
    than k.
    """
    k = min(k, len(rows))
    if k == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    if built.index_type == IndexType.FLAT or len(rows) <= exact_rows:
        return _exact_among(built, queries, k, rows)
    faiss = load_faiss()
    selector = faiss.IDSelectorBatch(np.ascontiguousarray(rows, dtype=np.int64))
    if built.index_type == IndexType.HNSW:
        ef = int(max(built.params.get("ef_search", 64), k))
        params: Any = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
    else:
        params = faiss.SearchParametersIVF(nprobe=int(built.params.get("nprobe", 32)), sel=selector)
    scores, ids = built.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return _exact_among(built, queries, k, rows) if (ids < 0).any() else (scores, ids)


def _exact_among(
    built: BuiltIndex, queries: np.ndarray, k: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    scores, local = exact_search(vectors_at(built.index, rows), queries, k)
    return scores, rows[local]
