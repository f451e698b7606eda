"""Tab "Draw to Search": a drawing, a text, a picture or a combination finds the nearest images of any
image index: the WikiArt gallery, a collection made in the Your images tab, or one built with the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import combine, gallery, texts
from apps.common import MODEL_CONCURRENCY_ID, load_image, user_error
from apps.components import guarded, image_upload, sketch_upload
from apps.identity import caller_of, token_input
from apps.search_controls import build_controls, poll_gallery_build, wire_controls
from apps.searching import (
    DEFAULT_K,
    DEFAULT_MODEL,
    MAX_K,
    NO_MINIMUM,
    SearchOutput,
    check_k,
    query_finder,
    search_with,
)
from core.config import Settings
from core.errors import SiglipProjectsError
from core.images import sketch_to_image
from core.limits import MAX_TEXT_CHARS, check_query, quote

#: Characters of the query the status line repeats.
STATUS_QUOTE_CHARS = 80

__all__ = ["MAX_K", "build_draw_search_tab", "check_k", "draw_search", "image_search", "text_search"]


def draw_search(
    sketch: Any,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[SearchOutput]:
    """Find the images nearest to a drawing (dark strokes on white).

    An empty canvas returns no results and a message, without calling a model. A `k` larger than
    the index gives every image, and the status says so.

    Args:
        sketch: The drawing: a Sketchpad value {"background", "layers", "composite"}, or any image.
        k: Number of results, 1 to 48.
        model: Model key (siglip, siglip2, ...); it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters "column=value" (e.g. "style=Impressionism"); one column: any value.
        token: Owner token (from create_index) or share token: to search a private collection.

    Returns:
        (gallery, status): (thumbnail, "title — artist · style · score") pairs, best first; a status line.
    """
    try:
        drawing = sketch_to_image(sketch)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    if drawing is None:
        gr.Warning(texts.SKETCH_EMPTY)
        yield [], texts.SKETCH_EMPTY
        return
    caller = caller_of(token, request, profile)
    yield from search_with(query_finder(drawing), k, model, index, min_score, filters, "your drawing", caller)


def text_search(
    query: str,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[SearchOutput]:
    """Find the images that best match a text description.

    Args:
        query: What to look for, e.g. "a stormy sea with a small boat" (at most 2,000 characters).
        k: Number of results, 1 to 48.
        model: Model key; it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.
        token: Owner or share token, for a private collection.

    Returns:
        (gallery, status) as draw_search.
    """
    try:
        query = check_query("" if query is None else query).strip()
    except SiglipProjectsError as error:
        raise user_error(error) from None
    if not query:
        gr.Warning(texts.TEXT_EMPTY)
        yield [], texts.TEXT_EMPTY
        return
    what = quote(query, STATUS_QUOTE_CHARS)
    caller = caller_of(token, request, profile)
    yield from search_with(query_finder(query), k, model, index, min_score, filters, what, caller)


def image_search(
    image: str | bytes | Image.Image | None,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[SearchOutput]:
    """Find the images nearest to a picture.

    Args:
        image: The picture (an image file or URL).
        k: Number of results, 1 to 48.
        model: Model key; it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.
        token: Owner or share token, for a private collection.

    Returns:
        (gallery, status) as draw_search.
    """
    picture = load_image(image, "a picture")
    caller = caller_of(token, request, profile)
    yield from search_with(query_finder(picture), k, model, index, min_score, filters, "your picture", caller)


def build_draw_search_tab(settings: Settings) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    gr.Markdown(texts.DRAW_INTRO)
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Tabs():
                with gr.Tab("Draw", id="draw-sketch"):
                    sketch = sketch_upload(
                        label="Your drawing",
                        elem_id="draw-sketchpad",
                        elem_classes=["brush-first"],
                        canvas_size=(512, 512),
                        height=440,
                        layers=False,
                        brush=gr.Brush(colors=["#000000"], default_size=6, color_mode="fixed"),
                        eraser=gr.Eraser(default_size=18),
                        transforms=(),
                    )
                    draw_button = gr.Button("Search drawing", variant="primary", elem_id="draw-run")
                with gr.Tab("Describe", id="draw-text"):
                    query = guarded(
                        gr.Textbox(
                            label="Describe an image",
                            placeholder="a stormy sea with a small boat",
                            elem_id="draw-query",
                            max_length=MAX_TEXT_CHARS,
                        ),
                        check_query,
                    )
                    text_button = gr.Button("Search text", variant="primary", elem_id="draw-text-run")
                with gr.Tab("Upload", id="draw-upload"):
                    picture = image_upload(label="A picture", height=360, elem_id="draw-image")
                    image_button = gr.Button("Search picture", variant="primary", elem_id="draw-image-run")
                with gr.Tab("Combine", id="draw-combine"):
                    parts = combine.build_combine_inputs(sketch)
            controls = build_controls()
        with gr.Column(scale=3):
            index_status = gr.Markdown(gallery.status_markdown(), elem_id="draw-index-status")
            results = gr.Gallery(
                label="Nearest images",
                columns=3,
                height=640,
                object_fit="cover",
                interactive=False,
                elem_id="draw-gallery",
            )
            status = gr.Markdown(label="Status", show_label=False, elem_id="draw-status")
            more = combine.build_more_like_this(results)
    outputs = [results, status]
    common = dict(outputs=outputs, concurrency_id=MODEL_CONCURRENCY_ID)
    shared = [*(controls[key] for key in ("k", "model", "index", "min_score", "filters")), token_input()]
    draw_button.click(draw_search, [sketch, *shared], api_name="draw_search", **common)
    text_button.click(text_search, [query, *shared], api_name="text_search", **common)
    query.submit(text_search, [query, *shared], api_visibility="private", **common)
    image_button.click(image_search, [picture, *shared], api_name="image_search", **common)
    combine.wire(parts, more, shared, common)
    wire_controls(controls)
    poll_gallery_build(index_status, controls["model"])
