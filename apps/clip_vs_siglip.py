"""Tab "CLIP vs SigLIP": one image and the user's labels, scored by CLIP (softmax), SigLIP and SigLIP 2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import examples, texts
from apps.common import DEFAULT_TOP_K, MODEL_CONCURRENCY_ID, build_model_columns, compare_models, model_picker
from apps.components import image_upload, labels_input, number_slider, template_input
from core.config import Settings
from core.zeroshot import DEFAULT_TEMPLATE, MAX_LABELS

MODEL_KEYS: tuple[str, ...] = ("clip", "siglip", "siglip2")


def compare_clip_siglip(
    image: str | bytes | Image.Image | None,
    labels: str,
    template: str = DEFAULT_TEMPLATE,
    top_k: int = DEFAULT_TOP_K,
    clip_model: str = "clip",
    siglip_model: str = "siglip",
    siglip2_model: str = "siglip2",
) -> Iterator[tuple[Any, ...]]:
    """Zero-shot classify an image against your labels with CLIP (softmax over the labels) and SigLIP
    and SigLIP 2 (an independent sigmoid per label), side by side.

    Yields (and, through the API, finally returns) `(clip, siglip, siglip2, clip_note, siglip_note,
    siglip2_note)`: `{label: score}` of the top `top_k` labels per model (None when that model
    failed) and a Markdown note per model (its error, if any).

    Args:
        image: The image (an image file or URL).
        labels: Candidate labels separated by commas, e.g. "cat, dog, a cat lying on a rug".
        template: Sentence with {} where each label goes, e.g. "This is a photo of {}.".
        top_k: Number of top labels shown per model.
        clip_model: The model of the first column: a registry key (presets included, e.g.
            "metaclip2-b16") or a checkpoint reference (a Hub id, a folder, open_clip:NAME@TAG).
        siglip_model: The model of the second column, likewise (e.g. "siglip2-so400m").
        siglip2_model: The model of the third column, likewise.

    Returns:
        (clip, siglip, siglip2, clip_note, siglip_note, siglip2_note): label scores and a note per model.
    """
    chosen = (clip_model, siglip_model, siglip2_model)
    yield from compare_models(image, labels, MODEL_KEYS, template=template, top_k=top_k, chosen=chosen)


def build_clip_vs_siglip_tab(settings: Settings) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    gr.Markdown(texts.CLIP_VS_SIGLIP_INTRO)
    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            image = image_upload(label="Image", height=280, elem_id="cvs-image")
            labels = labels_input(
                label="Labels (comma-separated)",
                placeholder="cat, dog, a cat lying on a rug",
                elem_id="cvs-labels",
            )
            with gr.Accordion("Options", open=False):
                template = template_input(value=DEFAULT_TEMPLATE, info=texts.TEMPLATE_HELP)
                top_k = number_slider(1, MAX_LABELS, value=DEFAULT_TOP_K, step=1, label="Top labels shown")
            with gr.Accordion("Models in the columns", open=False):
                pickers = [
                    model_picker(f"Column {n + 1}", key, f"cvs-model-{n + 1}")
                    for n, key in enumerate(MODEL_KEYS)
                ]
            button = gr.Button("Compare", variant="primary", elem_id="cvs-run")
        with gr.Column(scale=5):
            columns = build_model_columns(MODEL_KEYS)
            gr.Markdown(texts.WHY_SIGMOID, elem_classes=["why-note"])
    inputs = [image, labels, template, top_k, *pickers]
    event = dict(
        fn=compare_clip_siglip, inputs=inputs, outputs=columns.outputs, concurrency_id=MODEL_CONCURRENCY_ID
    )
    button.click(api_name="compare_clip_siglip", **event)
    labels.submit(api_visibility="private", **event)
    gr.Examples(
        examples=examples.clip_vs_siglip_examples(DEFAULT_TEMPLATE, DEFAULT_TOP_K),
        inputs=inputs[:4],  # the examples keep the default models
        outputs=columns.outputs,
        fn=compare_clip_siglip,
        cache_examples=False,
        run_on_click=True,
        visible_columns=[0, 1],
        label="Examples: click one to run it",
        api_visibility="private",
        elem_id="cvs-examples",
    )
