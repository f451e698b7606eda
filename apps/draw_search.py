"""Tab "Draw to Search": a drawing, a text, a picture or a combination finds the nearest images of any
image index: the WikiArt gallery, a collection made in the Your images tab, or one built with the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import combine, gallery, texts
from apps.common import MODEL_CONCURRENCY_ID, load_image, user_error
from apps.components import guarded, image_upload, number_slider, open_dropdown, sketch_upload
from apps.searching import (
    DEFAULT_K,
    DEFAULT_MODEL,
    MAX_K,
    NO_MINIMUM,
    SearchOutput,
    check_filters,
    check_index_name,
    check_k,
    query_finder,
    search_with,
)
from core.config import Settings
from core.errors import SiglipProjectsError
from core.images import sketch_to_image
from core.index import filter_choices
from core.limits import MAX_TEXT_CHARS, check_query, quote
from core.registry import get_spec

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
    yield from search_with(query_finder(drawing), k, model, index, min_score, filters, "your drawing")


def text_search(
    query: str,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
) -> Iterator[SearchOutput]:
    """Find the images that best match a text description.

    Args:
        query: What to look for, e.g. "a stormy sea with a small boat" (at most 2,000 characters).
        k: Number of results, 1 to 48.
        model: Model key; it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.

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
    yield from search_with(query_finder(query), k, model, index, min_score, filters, what)


def image_search(
    image: str | bytes | Image.Image | None,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
) -> Iterator[SearchOutput]:
    """Find the images nearest to a picture.

    Args:
        image: The picture (an image file or URL).
        k: Number of results, 1 to 48.
        model: Model key; it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.

    Returns:
        (gallery, status) as draw_search.
    """
    picture = load_image(image, "a picture")
    yield from search_with(query_finder(picture), k, model, index, min_score, filters, "your picture")


def _check_model(model: object) -> None:
    if model != "":
        get_spec(model)  # type: ignore[arg-type]


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
            controls = _build_controls()
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
    shared = [controls["k"], controls["model"], controls["index"], controls["min_score"], controls["filters"]]
    draw_button.click(draw_search, [sketch, *shared], api_name="draw_search", **common)
    text_button.click(text_search, [query, *shared], api_name="text_search", **common)
    query.submit(text_search, [query, *shared], api_visibility="private", **common)
    image_button.click(image_search, [picture, *shared], api_name="image_search", **common)
    combine.wire(parts, more, shared, common)
    _wire_controls(controls)
    _poll_gallery_build(index_status, controls["model"])


def _build_controls() -> dict[str, Any]:
    """Model, index, k and the filters, shared by every search of the tab."""
    # Without any index yet the API still needs a default model (one built later becomes searchable).
    model_value = gallery.default_model(DEFAULT_MODEL) or DEFAULT_MODEL
    model = guarded(
        open_dropdown(
            label="Model",
            info="The models that have an index.",
            choices=gallery.model_choices(),
            value=model_value,  # the list grows when an index is built after start-up
            elem_id="draw-model",
        ),
        _check_model,
    )
    index = guarded(
        open_dropdown(
            label="Index",
            info="Any image index built with this model: the gallery, your collections, CLI builds.",
            choices=gallery.index_choices(model_value),
            value="",
            elem_id="draw-index",
        ),
        check_index_name,
    )
    k = number_slider(1, MAX_K, value=DEFAULT_K, step=1, label="Results (k)", elem_id="draw-k")
    with gr.Accordion("Filter results", open=False, elem_id="draw-filter-panel"):
        gr.Markdown(texts.FILTER_HELP)
        min_score = number_slider(
            NO_MINIMUM, 1, value=NO_MINIMUM, step=0.01, label="Minimum score (cosine; -1: no minimum)",
            elem_id="draw-min-score",
        )  # fmt: skip
        filters = guarded(
            open_dropdown(
                label="Metadata filters",
                info="Exact match; several values of one field: any of them; several fields: all.",
                choices=_filter_choices(model_value, ""),
                multiselect=True,
                elem_id="draw-filters",
            ),
            check_filters,
        )
    return {"model": model, "index": index, "k": k, "min_score": min_score, "filters": filters}


def _filter_choices(model: str | None, index: str | None) -> list[tuple[str, str]]:
    if not model:
        return []
    try:
        return filter_choices(gallery.open_for_search(model, index).index)
    except SiglipProjectsError:
        return []


def _wire_controls(controls: dict[str, Any]) -> None:
    """The index list follows the model (and is re-read when opened: new indexes appear without a
    restart); the filter values follow the index."""
    model, index, filters = controls["model"], controls["index"], controls["filters"]

    def indexes_for(model_key: str | None, current: str | None) -> Any:
        choices = gallery.index_choices(model_key)
        if current in [name for _, name in choices]:
            return gr.Dropdown(choices=choices)  # setting the value again would close the open list
        return gr.Dropdown(choices=choices, value="")

    def filters_for(model_key: str | None, name: str | None) -> Any:
        return gr.Dropdown(choices=_filter_choices(model_key, name), value=[])

    private = dict(api_visibility="private", queue=False, show_progress="hidden")
    model.change(indexes_for, [model, index], index, **private).then(
        filters_for, [model, index], filters, **private
    )
    index.focus(indexes_for, [model, index], index, **private)
    index.input(filters_for, [model, index], filters, **private)


def _poll_gallery_build(index_status: gr.Markdown, model: gr.Dropdown) -> None:
    """Refresh the index status and the model list on page load, then every 2 s while the default
    gallery builds in the background (the first tick turns the timer off when nothing is building)."""
    timer = gr.Timer(2.0, active=True)

    def refresh(current: str | None) -> tuple[str, Any, gr.Timer]:
        choices = gallery.model_choices()
        keys = [key for _, key in choices]
        value = current if current in keys else gallery.default_model(DEFAULT_MODEL)
        return (
            gallery.status_markdown(),
            gr.Dropdown(choices=choices, value=value),
            gr.Timer(active=gallery.building()),
        )

    timer.tick(
        refresh,
        inputs=[model],
        outputs=[index_status, model, timer],
        api_visibility="private",
        show_progress="hidden",
        queue=False,
    )
    model.focus(lambda current: refresh(current)[1], [model], [model], api_visibility="private", queue=False)
