"""Tab "Search side by side": one query against two indexes, e.g. one collection embedded by SigLIP and
by SigLIP 2, results in two galleries with their scores (the CLIP vs SigLIP idea applied to search)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import gallery, texts
from apps.common import MODEL_CONCURRENCY_ID, load_image, user_error
from apps.components import guarded, image_upload, number_slider, open_dropdown, query_input
from apps.identity import caller_of, token_input
from apps.searching import DEFAULT_K, MAX_K, check_index_name, check_k
from core.config import Settings
from core.errors import InvalidInputError, SiglipProjectsError
from core.index import QueryPart, SearchTarget, combine_parts
from core.index.format.access import Caller, may_read
from core.index.format.catalog import catalog

#: (gallery A, status A, gallery B, status B).
CompareOutput = tuple[list[tuple[str, str]], str, list[tuple[str, str]], str]


def compare_search(
    text: str = "",
    image: str | bytes | Image.Image | None = None,
    index_a: str = "",
    index_b: str = "",
    k: int = DEFAULT_K,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[CompareOutput]:
    """Search two image indexes with the same query, each with its own model, side by side.

    A text and a picture together are combined with equal weights (normalise(e_text + e_picture)).

    Args:
        text: What to look for, e.g. "a stormy sea"; optional when a picture is given.
        image: A picture or drawing (image file or URL); optional when a text is given.
        index_a: Name of the first image index (see list_indexes).
        index_b: Name of the second image index, e.g. the same images embedded by another model.
        k: Number of results per index, 1 to 48.
        token: Owner or share token, for private collections.

    Returns:
        (gallery_a, status_a, gallery_b, status_b): (thumbnail, "score · title") pairs, best first.
    """
    count = check_k(k)
    parts = [QueryPart(text.strip())] if text and text.strip() else []
    if image is not None and image != "":
        parts.append(QueryPart(load_image(image, "a picture")))
    if not parts:
        gr.Warning(texts.COMPARE_EMPTY)
        yield [], texts.COMPARE_EMPTY, [], ""
        return
    index_a, index_b = index_a or "", index_b or ""  # a client may send None for "not chosen"
    caller = caller_of(token, request, profile)
    sides: list[tuple[list[tuple[str, str]], str]] = [
        ([], texts.waiting_note(name)) for name in (index_a, index_b)
    ]
    for position, name in enumerate((index_a, index_b)):
        try:
            target = _open(name, caller)
        except SiglipProjectsError as error:
            raise user_error(error) from None
        waiting = texts.loading_note(target.spec.name) if not target.model_loaded() else None
        sides[position] = ([], waiting or texts.running_note(name))
        yield (*sides[0], *sides[1])  # type: ignore[misc]
        sides[position] = _side(target, parts, count)
        yield (*sides[0], *sides[1])  # type: ignore[misc]


def _open(name: str, caller: Caller) -> SearchTarget:
    """The image index `name` (one `caller` may read), opened for its own model (the registry and the
    check: once)."""
    entry = catalog().get(name) if name else None
    if entry is None or not may_read(entry.path, caller):  # another's private collection: none either
        raise InvalidInputError(f"Choose two image indexes to compare (got {name[:80]!r}).")
    return gallery.open_for_search(None, name, caller)


def _side(target: SearchTarget, parts: list[QueryPart], k: int) -> tuple[list[tuple[str, str]], str]:
    started = time.perf_counter()
    try:
        hits = gallery.find(target, combine_parts(target, parts), k)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    seconds = time.perf_counter() - started
    return gallery.items_of(target, hits, score_first=True), texts.compare_status(
        target.spec.name, gallery.index_label(target), seconds
    )


def build_compare_search_tab(settings: Settings) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    gr.Markdown(texts.COMPARE_INTRO)
    choices = gallery.image_index_choices()
    names = [name for _, name in choices]
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            text = query_input(
                label="Describe it", placeholder="a stormy sea with a small boat", elem_id="cmp-text"
            )
            image = image_upload(label="or a picture (optional)", height=200, elem_id="cmp-image")
            index_a = _index_dropdown("Index A", choices, names[0] if names else "", "cmp-index-a")
            index_b = _index_dropdown("Index B", choices, names[1] if len(names) > 1 else "", "cmp-index-b")
            k = number_slider(1, MAX_K, value=6, step=1, label="Results per index (k)", elem_id="cmp-k")
            button = gr.Button("Search both", variant="primary", elem_id="cmp-run")
        with gr.Column(scale=3), gr.Row(equal_height=False):
            outputs = []
            for side in ("a", "b"):
                with gr.Column(min_width=240):
                    results = gr.Gallery(
                        label=f"Index {side.upper()}", columns=3, height=460, object_fit="cover",
                        interactive=False, elem_id=f"cmp-gallery-{side}",
                    )  # fmt: skip
                    status = gr.Markdown(elem_id=f"cmp-status-{side}")
                    outputs += [results, status]
    inputs = [text, image, index_a, index_b, k, token_input()]
    common = dict(outputs=outputs, concurrency_id=MODEL_CONCURRENCY_ID)
    button.click(compare_search, inputs, api_name="compare_search", **common)
    text.submit(compare_search, inputs, api_visibility="private", **common)
    for dropdown in (index_a, index_b):
        dropdown.focus(_refresh, [dropdown], [dropdown], api_visibility="private", queue=False)


def _index_dropdown(label: str, choices: list[tuple[str, str]], value: str, elem_id: str) -> gr.Dropdown:
    dropdown = open_dropdown(label=label, choices=choices, value=value or None, elem_id=elem_id)
    return guarded(dropdown, check_index_name)


def _refresh(current: str | None, request: gr.Request) -> Any:
    return gr.Dropdown(choices=gallery.image_index_choices(caller_of(None, request)))
