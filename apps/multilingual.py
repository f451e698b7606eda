"""Tab "Multilingual zero-shot": labels in any language, scored by four multilingual models side by side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from apps import examples, texts
from apps.common import (
    DEFAULT_TOP_K,
    MODEL_CONCURRENCY_ID,
    build_model_columns,
    compare_models,
    language_dropdown,
    model_picker,
    user_error,
)
from apps.components import image_upload, labels_input, number_slider, template_input
from core.config import Settings
from core.errors import SiglipProjectsError
from core.languages import check_language_code, detect_language, language_name
from core.zeroshot import MAX_LABELS

MODEL_KEYS: tuple[str, ...] = ("siglip-multilingual", "siglip2", "nllb-clip", "mclip")
#: The labels alone: an English sentence around labels in another language reads worse than none.
DEFAULT_TEMPLATE = "{}"


def resolve_language(language: str | None, labels: str) -> tuple[str, str]:
    """The source-language code to use and a Markdown line saying which one and why.

    `language` is an NLLB code, or "auto"/empty to guess it from `labels`.

    Raises:
        gr.Error: an unknown code.
    """
    if not language or language == texts.LANGUAGE_AUTO:
        code = detect_language(labels if isinstance(labels, str) else "")
        return code, f"Source language: **{language_name(code)}** (`{code}`), guessed from the labels."
    try:
        code = check_language_code(language)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    return code, f"Source language: **{language_name(code)}** (`{code}`)."


def compare_multilingual(
    image: str | bytes | Image.Image | None,
    labels: str,
    language: str = texts.LANGUAGE_AUTO,
    template: str = DEFAULT_TEMPLATE,
    top_k: int = DEFAULT_TOP_K,
    siglip_multilingual_model: str = "siglip-multilingual",
    siglip2_model: str = "siglip2",
    nllb_clip_model: str = "nllb-clip",
    mclip_model: str = "mclip",
) -> Iterator[tuple[Any, ...]]:
    """Zero-shot classify an image against labels in any language with SigLIP multilingual, SigLIP 2,
    NLLB-CLIP and multilingual CLIP, side by side.

    `language` is the labels' NLLB code (e.g. `deu_Latn`) or "auto" to guess it; only models whose
    tokenizer needs a source language use it.

    Yields (and, through the API, finally returns) `(siglip_multilingual, siglip2, nllb_clip, mclip,`
    one Markdown note per model, then the source-language note)`; label values are `{label: score}`
    of the top `top_k` labels, None for a model that failed (its note says why).

    Args:
        image: The image (an image file or URL).
        labels: Candidate labels in any language separated by commas, e.g. "Katze, Hund, Vogel".
        language: NLLB code of the labels' language (e.g. deu_Latn), or "auto" to guess it.
        template: Sentence with {} where each label goes, in the labels' language; "{}" for none.
        top_k: Number of top labels shown per model.
        siglip_multilingual_model: The model of the first column: a registry key (presets included,
            e.g. "metaclip2-s16") or a checkpoint reference (a Hub id, a folder, open_clip:NAME@TAG).
        siglip2_model: The model of the second column, likewise.
        nllb_clip_model: The model of the third column, likewise.
        mclip_model: The model of the fourth column, likewise.

    Returns:
        Four label-score values, four notes and the source-language note.
    """
    code, language_note = resolve_language(language, labels)
    chosen = (siglip_multilingual_model, siglip2_model, nllb_clip_model, mclip_model)
    for values in compare_models(
        image, labels, MODEL_KEYS, template=template, top_k=top_k, language=code, chosen=chosen
    ):
        yield (*values, language_note)


def build_multilingual_tab(settings: Settings) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    gr.Markdown(texts.MULTILINGUAL_INTRO)
    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            image = image_upload(label="Image", height=280, elem_id="ml-image")
            labels = labels_input(
                label="Labels in any language (comma-separated)",
                placeholder="Katze, Hund, Vogel",
                elem_id="ml-labels",
            )
            language = language_dropdown("Source language", "Guess from the labels", texts.LANGUAGE_HELP)
            with gr.Accordion("Options", open=False):
                template = template_input(value=DEFAULT_TEMPLATE, info=texts.MULTILINGUAL_TEMPLATE_HELP)
                top_k = number_slider(1, MAX_LABELS, value=DEFAULT_TOP_K, step=1, label="Top labels shown")
            with gr.Accordion("Models in the columns", open=False):
                pickers = [
                    model_picker(f"Column {n + 1}", key, f"ml-model-{n + 1}")
                    for n, key in enumerate(MODEL_KEYS)
                ]
            button = gr.Button("Classify", variant="primary", elem_id="ml-run")
        with gr.Column(scale=6):
            language_note = gr.Markdown(label="Source language", show_label=False, elem_id="ml-language")
            columns = build_model_columns(MODEL_KEYS)
    inputs = [image, labels, language, template, top_k, *pickers]
    outputs = [*columns.outputs, language_note]
    event = dict(fn=compare_multilingual, inputs=inputs, outputs=outputs, concurrency_id=MODEL_CONCURRENCY_ID)
    button.click(api_name="compare_multilingual", **event)
    labels.submit(api_visibility="private", **event)
    gr.Examples(
        examples=examples.multilingual_examples(DEFAULT_TEMPLATE, DEFAULT_TOP_K),
        inputs=inputs[:5],  # the examples keep the default models
        outputs=outputs,
        fn=compare_multilingual,
        cache_examples=False,
        run_on_click=True,
        visible_columns=[0, 1, 2],
        example_labels=examples.multilingual_captions(),
        label="Examples in several languages: click one to run it",
        api_visibility="private",
        elem_id="ml-examples",
    )
