"""The search tab's combined queries ("this sketch, as a watercolour", "beach, without people") and its
"More like this" button, which searches again from a result's stored vector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import texts
from apps.common import load_image, user_error
from apps.components import image_upload, number_slider, query_input, short_text
from apps.identity import caller_of
from apps.searching import DEFAULT_K, DEFAULT_MODEL, NO_MINIMUM, SearchOutput, query_finder, search_with
from core.errors import SiglipProjectsError
from core.images import sketch_to_image
from core.index import Hit, QueryPart, SearchTarget, combine_parts
from core.index import similar as similar_items

#: Most texts to leave out of one query.
MAX_NEGATIVES = 8


def combined_search(
    image: str | bytes | Image.Image | None = None,
    text: str = "",
    negative: str = "",
    image_weight: float = 1.0,
    text_weight: float = 1.0,
    negative_weight: float = 1.0,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[SearchOutput]:
    """Search with a picture or drawing plus a text, minus texts to leave out, each with a weight.

    The query vector is normalise(image_weight * e_image + text_weight * e_text - negative_weight *
    (n_1 + n_2 + ...)), every embedding normalised by the index's model.

    Args:
        image: A picture or a drawing (image file or URL); optional.
        text: Text to add, e.g. "as a watercolour"; optional.
        negative: Texts to leave out, separated by commas, e.g. "people, cars"; optional.
        image_weight: Weight of the picture, 0 to 10.
        text_weight: Weight of the text, 0 to 10.
        negative_weight: Weight of each text to leave out, 0 to 10.
        k: Number of results, 1 to 48.
        model: Model key; it must be the model the index was built with.
        index: Name of an image index (see list_indexes); empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.
        token: Owner or share token, for a private collection.

    Returns:
        (gallery, status) as draw_search.
    """
    parts = []
    if image is not None and image != "":
        parts.append(QueryPart(load_image(image, "a picture"), image_weight))
    if text and text.strip():
        parts.append(QueryPart(text.strip(), text_weight))
    negatives = [part.strip() for part in (negative or "").split(",") if part.strip()]
    if len(negatives) > MAX_NEGATIVES:
        raise gr.Error(texts.too_many_negatives(len(negatives), MAX_NEGATIVES), print_exception=False)
    parts += [QueryPart(part, negative_weight, negative=True) for part in negatives]
    if not any(not part.negative for part in parts):
        gr.Warning(texts.COMBINE_EMPTY)
        yield [], texts.COMBINE_EMPTY
        return

    def vector(loaded: SearchTarget) -> Any:
        return combine_parts(loaded, parts)

    what = texts.combined_what(image is not None and image != "", text, negatives)
    caller = caller_of(token, request, profile)
    yield from search_with(query_finder(vector), k, model, index, min_score, filters, what, caller)


def similar(
    item: str,
    k: int = DEFAULT_K,
    model: str = DEFAULT_MODEL,
    index: str = "",
    min_score: float = NO_MINIMUM,
    filters: list[str] | None = None,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> Iterator[SearchOutput]:
    """More like this: the images nearest to one result of an earlier search, found with its stored
    vector (nothing is embedded again); the result itself comes first.

    Args:
        item: A result's image as a search returned it (path or URL; its file name is enough), or its key.
        k: Number of results, 1 to 48.
        model: Model key of the index.
        index: Name of the image index the result came from; empty: the model's default (WikiArt).
        min_score: Leave out results whose cosine similarity is below it (-1 keeps all).
        filters: Metadata filters, "column=value" each.
        token: Owner or share token, for a private collection.

    Returns:
        (gallery, status) as draw_search.
    """
    if not item or not str(item).strip():
        gr.Warning(texts.SELECT_FIRST)
        yield [], texts.SELECT_FIRST
        return

    def find(loaded: SearchTarget, count: int, where: Any, floor: float | None) -> list[Hit]:
        hits = similar_items(loaded, str(item).strip(), count, where=where, min_score=floor)
        return [hit for hit in hits if hit.thumbnail is not None]

    caller = caller_of(token, request, profile)
    yield from search_with(find, k, model, index, min_score, filters, texts.SIMILAR_WHAT, caller)


def drawing_as_picture(sketch: Any) -> Image.Image | None:
    """The Draw tab's drawing, for the Combine tab's picture (a warning when the canvas is empty)."""
    try:
        drawing = sketch_to_image(sketch)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    if drawing is None:
        gr.Warning(texts.SKETCH_EMPTY)
    return drawing


def build_combine_inputs(sketch: gr.Sketchpad) -> dict[str, Any]:
    """The Combine tab's inputs: a picture (or the drawing), a text, texts to leave out, weights."""
    gr.Markdown(texts.COMBINE_HELP)
    with gr.Row():
        image = image_upload(
            label="A picture or your drawing (optional)", height=220, elem_id="combine-image"
        )
        with gr.Column(min_width=160):
            use_drawing = gr.Button("Use my drawing", size="sm", elem_id="combine-use-drawing")
            image_weight = number_slider(
                0, 2, value=1.0, step=0.05, label="Picture weight", elem_id="combine-wi"
            )
    with gr.Row():
        text = query_input(
            value="", label="Plus this text", placeholder="as a watercolour", elem_id="combine-text"
        )
        text_weight = number_slider(0, 2, value=1.0, step=0.05, label="Text weight", elem_id="combine-wt")
    with gr.Row():
        negative = query_input(
            value="", label="Leave out", placeholder="people, text", elem_id="combine-negative"
        )
        negative_weight = number_slider(
            0, 2, value=1.0, step=0.05, label="Leave-out weight", elem_id="combine-wn"
        )
    button = gr.Button("Search combined", variant="primary", elem_id="combine-run")
    use_drawing.click(drawing_as_picture, [sketch], [image], api_visibility="private", queue=False)
    return {
        "inputs": [image, text, negative, image_weight, text_weight, negative_weight],
        "button": button,
    }


def build_more_like_this(results: gr.Gallery) -> dict[str, Any]:
    """The "More like this" button under the results, and the (hidden) result it starts from."""
    with gr.Row():
        button = gr.Button("More like this", interactive=False, elem_id="draw-more", scale=0)
        gr.Markdown(texts.MORE_HINT, elem_id="draw-more-hint")
    item = short_text(gr.Textbox(visible=False, elem_id="draw-selected"), "The result")

    def selected(event: gr.SelectData) -> tuple[str, Any]:
        value = event.value if isinstance(event.value, dict) else {}
        image = value.get("image") if isinstance(value.get("image"), dict) else {}
        path = image.get("path") or image.get("url") or ""
        return path, gr.Button(interactive=bool(path))

    results.select(selected, None, [item, button], api_visibility="private", queue=False)
    return {"button": button, "item": item}


def wire(parts: dict[str, Any], more: dict[str, Any], shared: list[Any], common: dict[str, Any]) -> None:
    """Connect the Combine tab and "More like this" to the tab's shared inputs and outputs."""
    parts["button"].click(combined_search, [*parts["inputs"], *shared], api_name="combined_search", **common)
    more["button"].click(similar, [more["item"], *shared], api_name="similar", **common)
