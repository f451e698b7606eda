"""The controls every search of the Draw to Search tab shares (model, index, k, filters), kept in step
with the indexes the visitor may read, and the gallery's build status polled while it is built."""

from __future__ import annotations

from typing import Any

import gradio as gr

from apps import gallery, texts
from apps.components import guarded, number_slider, open_dropdown
from apps.identity import caller_of
from apps.searching import DEFAULT_K, DEFAULT_MODEL, MAX_K, NO_MINIMUM, check_filters, check_index_name
from core.errors import SiglipProjectsError
from core.index import filter_choices
from core.index.format.access import Caller
from core.registry import get_spec


def _check_model(model: object) -> None:
    if model != "":
        get_spec(model)  # type: ignore[arg-type]


def build_controls() -> dict[str, Any]:
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


def _filter_choices(
    model: str | None, index: str | None, caller: Caller | None = None
) -> list[tuple[str, str]]:
    if not model:
        return []
    try:
        return filter_choices(gallery.open_for_search(model, index, caller).index)
    except SiglipProjectsError:
        return []


def wire_controls(controls: dict[str, Any]) -> None:
    """The index list follows the model (and is re-read when opened: new indexes appear without a
    restart); the filter values follow the index."""
    model, index, filters = controls["model"], controls["index"], controls["filters"]

    def indexes_for(model_key: str | None, current: str | None, request: gr.Request) -> Any:
        choices = gallery.index_choices(model_key, caller_of(None, request))
        if current in [name for _, name in choices]:
            return gr.Dropdown(choices=choices)  # setting the value again would close the open list
        return gr.Dropdown(choices=choices, value="")

    def filters_for(model_key: str | None, name: str | None, request: gr.Request) -> Any:
        return gr.Dropdown(choices=_filter_choices(model_key, name, caller_of(None, request)), value=[])

    private = dict(api_visibility="private", queue=False, show_progress="hidden")
    model.change(indexes_for, [model, index], index, **private).then(
        filters_for, [model, index], filters, **private
    )
    index.focus(indexes_for, [model, index], index, **private)
    index.input(filters_for, [model, index], filters, **private)


def poll_gallery_build(index_status: gr.Markdown, model: gr.Dropdown) -> None:
    """Refresh the index status and the model list on page load, then every 2 s while the default
    gallery builds in the background (the first tick turns the timer off when nothing is building)."""
    timer = gr.Timer(2.0, active=True)

    def refresh(current: str | None, request: gr.Request) -> tuple[str, Any, gr.Timer]:
        choices = gallery.model_choices(caller_of(None, request))
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

    def models(current: str | None, request: gr.Request) -> Any:
        return refresh(current, request)[1]

    model.focus(models, [model], [model], api_visibility="private", queue=False)
