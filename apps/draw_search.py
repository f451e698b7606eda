"""Tab "Draw to Search Art": a drawing, a text or a picture finds the nearest paintings of an index."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import gallery, texts
from apps.common import MODEL_CONCURRENCY_ID, load_image, user_error
from apps.components import guarded, image_upload, number_slider, sketch_upload
from core.config import Settings
from core.encoders import is_loaded
from core.errors import SiglipProjectsError
from core.images import sketch_to_image
from core.limits import MAX_TEXT_CHARS, check_query, quote
from core.registry import DEFAULT_MODEL_KEY, get_spec

DEFAULT_K = 9
MAX_K = 48
DEFAULT_MODEL = DEFAULT_MODEL_KEY
#: Characters of the query the status line repeats.
STATUS_QUOTE_CHARS = 80
#: (gallery items as (thumbnail path, caption), status in Markdown).
SearchOutput = tuple[list[tuple[str, str]], str]


def draw_search(sketch: Any, k: int = DEFAULT_K, model: str = DEFAULT_MODEL) -> Iterator[SearchOutput]:
    """Find the `k` paintings nearest to a drawing (a Sketchpad value, or any image).

    An empty canvas returns no results and a message, without calling a model. A `k` larger than
    the index gives every painting, and the status says so.

    Yields (and, through the API, finally returns) `(gallery, status)`: `(thumbnail path, caption)`
    pairs, best first, with captions `title — artist · style · score`; and a Markdown status line.
    """
    try:
        drawing = sketch_to_image(sketch)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    if drawing is None:
        gr.Warning(texts.SKETCH_EMPTY)
        yield [], texts.SKETCH_EMPTY
        return
    yield from _search(drawing, k, model, "your drawing")


def text_search(query: str, k: int = DEFAULT_K, model: str = DEFAULT_MODEL) -> Iterator[SearchOutput]:
    """Find the `k` paintings that best match a text description. Yields `(gallery, status)`.

    Raises:
        gr.Error: the query is over `core.limits.MAX_TEXT_CHARS` characters (refused before any model runs).
    """
    try:
        query = check_query("" if query is None else query).strip()
    except SiglipProjectsError as error:
        raise user_error(error) from None
    if not query:
        gr.Warning(texts.TEXT_EMPTY)
        yield [], texts.TEXT_EMPTY
        return
    yield from _search(query, k, model, quote(query, STATUS_QUOTE_CHARS))


def image_search(
    image: str | bytes | Image.Image | None, k: int = DEFAULT_K, model: str = DEFAULT_MODEL
) -> Iterator[SearchOutput]:
    """Find the `k` paintings nearest to an uploaded picture. Yields `(gallery, status)`."""
    yield from _search(load_image(image, "a picture"), k, model, "your picture")


def _search(query: str | Image.Image, k: Any, model: str, what: str) -> Iterator[SearchOutput]:
    model = model or DEFAULT_MODEL
    count = check_k(k)
    try:
        name = get_spec(model).name
        index = gallery.index_for(model)
        if not is_loaded(model):
            yield [], texts.loading_note(name)
        hits = gallery.find(index, query, count)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    items = [(str(hit.thumbnail), gallery.caption(hit)) for hit in hits]
    status = texts.search_status(len(items), what, name, gallery.index_label(index))
    if count > len(index):
        status += texts.whole_index_note(len(index), count)
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
                            label="Describe a painting",
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
            model = guarded(
                gr.Dropdown(
                    label="Model",
                    info="The models that have an index.",
                    choices=gallery.model_choices(),
                    value=gallery.default_model(DEFAULT_MODEL),
                    # The list grows when the WikiArt gallery is built after start-up; the key is checked.
                    allow_custom_value=True,
                    elem_id="draw-model",
                ),
                _check_model,
            )
            k = number_slider(1, MAX_K, value=DEFAULT_K, step=1, label="Results (k)", elem_id="draw-k")
        with gr.Column(scale=3):
            index_status = gr.Markdown(gallery.status_markdown(), elem_id="draw-index-status")
            results = gr.Gallery(
                label="Nearest paintings",
                columns=3,
                height=640,
                object_fit="cover",
                interactive=False,
                elem_id="draw-gallery",
            )
            status = gr.Markdown(label="Status", show_label=False, elem_id="draw-status")
    outputs = [results, status]
    common = dict(outputs=outputs, concurrency_id=MODEL_CONCURRENCY_ID)
    draw_button.click(draw_search, [sketch, k, model], api_name="draw_search", **common)
    text_button.click(text_search, [query, k, model], api_name="text_search", **common)
    query.submit(text_search, [query, k, model], api_visibility="private", **common)
    image_button.click(image_search, [picture, k, model], api_name="image_search", **common)
    _poll_gallery_build(index_status, model)


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
