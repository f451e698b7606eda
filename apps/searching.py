"""What every search of the app shares: k, model, index and filters checked one way, the loading note,
the gallery items and the status line."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from apps import gallery, texts
from apps.common import user_error
from core.errors import InvalidInputError, SiglipProjectsError
from core.index import Hit, SearchTarget, parse_filters
from core.index.format.access import Caller
from core.index.format.layout import check_name
from core.limits import check_text, quote
from core.registry import DEFAULT_MODEL_KEY

DEFAULT_K = 9
MAX_K = 48
DEFAULT_MODEL = DEFAULT_MODEL_KEY
#: Longest metadata filter (`column=value`) a request may send.
MAX_FILTER_CHARS = 500
#: The minimum-score slider's lowest value, which keeps every result.
NO_MINIMUM = -1.0
#: (gallery items as (thumbnail path, caption), status in Markdown).
SearchOutput = tuple[list[tuple[str, str]], str]
#: How a search finds its hits in the chosen index: (index, k, where, min_score) -> hits.
Finder = Callable[[SearchTarget, int, Any, "float | None"], list[Hit]]


def query_finder(query: object) -> Finder:
    """A Finder that searches for `query` (a text, an image, or a function of the index that gives
    its query vector)."""

    def find(index: SearchTarget, k: int, where: Any, floor: float | None) -> list[Hit]:
        vector = query(index) if callable(query) else query
        return gallery.find(index, vector, k, where, floor)

    return find


def search_with(
    find: Finder, k: Any, model: str, index: str, min_score: Any, filters: Any, what: str, caller: Caller
) -> Iterator[SearchOutput]:
    """Run `find` on the chosen index (one `caller` may read) with the checked k and filters; yield a
    loading note first when the model is not loaded yet, then `(gallery, status)`.

    Raises:
        gr.Error: a bad k, model, index, filter or minimum score, or any other core error.
    """
    model = model or DEFAULT_MODEL
    count = check_k(k)
    try:
        target = gallery.open_for_search(model, index, caller)  # the registry and the index's model: once
        where = parse_filters(filters)
        floor = None if min_score is None or min_score == NO_MINIMUM else min_score
        if not target.model_loaded():
            yield [], texts.loading_note(target.spec.name)
        hits = find(target, count, where, floor)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    items = gallery.items_of(target, hits)
    status = texts.search_status(len(items), what, target.spec.name, gallery.index_label(target))
    if where or floor is not None:
        status += texts.filtered_note(len(items), count)
    elif count > len(target):
        status += texts.whole_index_note(len(target), count)
    yield items, status


def check_k(k: Any) -> int:
    """The number of results to show: `k` as a whole number from 1 to `MAX_K`.

    Raises:
        gr.Error: `k` is not a number, or below 1.
    """
    try:
        value = float(k)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise gr.Error(texts.bad_k_message(k, MAX_K), print_exception=False)
    return min(MAX_K, int(value))


def check_index_name(name: object) -> None:
    """An index chosen by a request: empty (the model's default) or a valid index name.

    Raises:
        InvalidInputError: anything else (quoted short).
    """
    if name != "":
        check_name(name)  # type: ignore[arg-type]


def check_filters(filters: object) -> None:
    """Metadata filters sent by a request: a list of at most `MAX_TERMS` `column=value` texts, each
    at most `MAX_FILTER_CHARS` characters.

    Raises:
        InvalidInputError: anything else (quoted short).
    """
    terms = [filters] if isinstance(filters, str) else filters
    if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
        raise InvalidInputError(f"Filters must be a list of column=value texts, got {quote(filters)}.")
    for term in terms:
        check_text(term, "A filter", MAX_FILTER_CHARS)
    parse_filters(terms)
