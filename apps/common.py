"""Helpers shared by the tabs: user errors, image inputs and the side-by-side model comparison."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from apps import texts
from apps.components import guarded, open_dropdown
from core.encoders import is_loaded
from core.errors import SiglipProjectsError
from core.images import open_query_image, to_rgb
from core.languages import check_language_code, language_choices
from core.registry import MODELS, get_spec
from core.zeroshot import check_template, classify, parse_labels

log = logging.getLogger(__name__)

#: Events that run a model share this concurrency group, so that a few requests run at once in all
#: tabs together and a crowd of users queues instead of exhausting memory.
MODEL_CONCURRENCY_ID = "models"
DEFAULT_TOP_K = 5
MODEL_PICKER_HELP = (
    "Any model of the list, or type a checkpoint: a Hub id (google/siglip2-so400m-patch14-384), a folder "
    "on the server, or open_clip:NAME@TAG."
)
#: (label dict for gr.Label or None, note in Markdown) per model.
ColumnValue = tuple[dict[str, float] | None, str]


def user_error(error: SiglipProjectsError) -> gr.Error:
    """A `gr.Error` carrying the core's message (which says what was wrong and what to do)."""
    return gr.Error(str(error), print_exception=False)


def load_image(value: str | bytes | Image.Image | None, what: str = "an image") -> Image.Image:
    """Open an uploaded image (the path or bytes `image_upload` gives, or a PIL image) as RGB.

    Raises:
        gr.Error: nothing uploaded, or not a usable image.
    """
    if value is None or value == "":
        raise gr.Error(f"Upload {what} first.", print_exception=False)
    try:
        return to_rgb(value) if isinstance(value, Image.Image) else open_query_image(value)
    except SiglipProjectsError as error:
        raise user_error(error) from None


def language_dropdown(label: str, guess: str, info: str) -> gr.Dropdown:
    """An NLLB language picker whose first choice, `guess`, lets the core guess from the texts; any
    other value a request sends must be an NLLB code (checked before Gradio keeps it)."""
    dropdown = gr.Dropdown(
        choices=[(guess, texts.LANGUAGE_AUTO), *language_choices()],
        value=texts.LANGUAGE_AUTO,
        label=label,
        info=info,
        allow_custom_value=True,
    )
    return guarded(dropdown, _check_language)


def _check_language(language: object) -> None:
    if language not in ("", texts.LANGUAGE_AUTO):
        check_language_code(language)


def label_value(results: Sequence[dict[str, Any]], top_k: int) -> dict[str, float]:
    """`[{"label", "score"}]` (sorted) -> `{label: score}` of the top `top_k`, as gr.Label shows it."""
    return {str(row["label"]): float(row["score"]) for row in results[: max(1, int(top_k))]}


def model_picker(label: str, default: str, elem_id: str) -> gr.Dropdown:
    """Which model fills one column: a registry model (presets included) or any checkpoint reference
    typed in (a Hub id, a folder on the server, `open_clip:NAME@TAG`), checked before the handler runs."""
    return guarded(
        open_dropdown(
            choices=[(f"{spec.name} ({key})", key) for key, spec in MODELS.items()],
            value=default,
            label=label,
            info=MODEL_PICKER_HELP,
            elem_id=elem_id,
        ),
        _check_model,
    )


def _check_model(payload: object) -> None:
    if payload not in ("", None):
        get_spec(payload)  # type: ignore[arg-type]


def model_heading(key: str) -> str:
    spec = get_spec(key)
    return f"**{spec.name}** · {texts.scoring_note(spec.scoring)}"


@dataclass
class ModelColumns:
    """One column per model: a heading, a gr.Label with its top labels and a status note."""

    keys: tuple[str, ...]
    labels: list[gr.Label]
    notes: list[gr.Markdown]

    @property
    def outputs(self) -> list[gr.components.Component]:
        """Labels first, then notes: the order of the values the comparison handlers return."""
        return [*self.labels, *self.notes]


def build_model_columns(keys: Sequence[str]) -> ModelColumns:
    labels, notes = [], []
    with gr.Row(equal_height=False):
        for key in keys:
            spec = get_spec(key)
            with gr.Column(min_width=170, elem_classes=["model-column"]):
                gr.Markdown(model_heading(key), elem_classes=["model-heading"])
                labels.append(gr.Label(label=spec.name, show_label=False, elem_id=f"label-{key}"))
                notes.append(
                    gr.Markdown(
                        f"Reads: {spec.languages}",
                        label=f"{spec.name} note",
                        show_label=False,
                        elem_id=f"note-{key}",
                        elem_classes=["model-note"],
                    )
                )
    return ModelColumns(tuple(keys), labels, notes)


def compare_models(
    image: str | bytes | Image.Image | None,
    labels: str,
    keys: Sequence[str],
    *,
    template: str | None,
    top_k: int,
    language: str | None = None,
    chosen: Sequence[str | None] = (),
) -> Iterator[tuple[Any, ...]]:
    """Score one image against the labels with each model in turn, yielding the columns as they fill.

    `chosen` may swap the model of a column (by position; None or "" keeps `keys`' model): the swapped
    column's note then names the model that filled it.

    Bad input (no image, no labels, a template without `{}`) fails the whole request with `gr.Error`
    before any model runs. A model that cannot be used (not downloadable offline, a language its
    tokenizer does not know) shows its error in its own column; the other models still answer.

    Yields:
        Tuples `(label value per model..., note per model...)`: label values are `{label: score}`
        dicts (None for a model that failed or has not run yet), notes are Markdown strings.
    """
    rgb = load_image(image)
    try:
        names = parse_labels(labels or "")
        template = check_template(template)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    swaps = [choice or key for key, choice in zip(keys, [*chosen, *[None] * len(keys)], strict=False)]
    heads = [_swap_heading(key, swap) for key, swap in zip(keys, swaps, strict=True)]
    columns: list[ColumnValue] = [
        (None, head + _pending_note(swap)) for head, swap in zip(heads, swaps, strict=True)
    ]
    yield _flatten(columns)
    for position, key in enumerate(swaps):
        label, note = _classify_column(rgb, names, key, template, top_k, language)
        columns[position] = (label, heads[position] + note)
        yield _flatten(columns)


def _swap_heading(default: str, key: str) -> str:
    """ "" for a column's own model; else the heading of the model put in its place."""
    if key == default:
        return ""
    try:
        return model_heading(key) + " · "
    except SiglipProjectsError:  # the column's note says why
        return ""


def _pending_note(key: str) -> str:
    try:
        name = get_spec(key).name
    except SiglipProjectsError as error:
        return texts.failed_note(key, str(error))
    return texts.running_note(name) if is_loaded(key) else texts.loading_note(name)


def _classify_column(
    image: Image.Image, names: list[str], key: str, template: str, top_k: int, language: str | None
) -> ColumnValue:
    try:
        spec = get_spec(key)
    except SiglipProjectsError as error:  # a column given an unusable reference
        return None, texts.failed_note(key, str(error))
    first_use = not is_loaded(key)
    started = time.perf_counter()
    try:
        results = classify(image, names, model=key, template=template, language=language)
    except SiglipProjectsError as error:
        log.warning("%s failed: %s", key, error)
        return None, texts.failed_note(spec.name, str(error))
    total = sum(float(row["score"]) for row in results)
    seconds = time.perf_counter() - started
    elapsed = f"loaded and ran in {seconds:.1f} s" if first_use else f"{seconds:.2f} s"
    if len(results) == 1 and spec.scoring == "softmax":
        return label_value(results, top_k), f"{texts.SINGLE_LABEL_SOFTMAX} · {elapsed}"
    return label_value(results, top_k), f"Scores sum to {total:.2f} over {len(results)} labels · {elapsed}"


def _flatten(columns: Sequence[ColumnValue]) -> tuple[Any, ...]:
    return tuple(label for label, _ in columns) + tuple(note for _, note in columns)


def final(values: Iterator[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The last value of a generator handler (what gradio_client's `predict` returns)."""
    last = deque(values, maxlen=1)
    return last[0] if last else ()
