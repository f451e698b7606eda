"""The Evaluate tab's line before a run: the uploaded zip's images x the ticked models, against the
budget of one evaluation, and the time the run should take here (`core.evaluation.budget`)."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from apps import texts
from core.config import get_settings
from core.errors import SiglipProjectsError
from core.evaluation.budget import estimate_seconds, zip_image_count
from core.registry import MODELS


def estimate(file: str | None, models: Sequence[str] | None) -> str:
    """The estimate line for the zip at `file` and the model keys `models` (empty until both are given;
    the reason when the file is not a readable zip)."""
    keys = [key for key in (models or []) if key in MODELS]
    if not file or not keys:
        return ""
    try:
        images = zip_image_count(file)
    except SiglipProjectsError as error:
        return str(error)
    settings = get_settings()
    return texts.evaluation_estimate(
        images,
        len(keys),
        estimate_seconds(images, keys),
        settings.eval_max_image_models,
        settings.eval_time_limit_minutes,
    )


def build_estimate(file: gr.File, models: gr.CheckboxGroup) -> gr.Markdown:
    """The estimate line, inside the current layout, kept up to date as the file or the models change
    (in the browser only: not an API endpoint)."""
    line = gr.Markdown(elem_id="eval-estimate")
    for trigger in (file.change, models.change):
        trigger(estimate, [file, models], line, api_visibility="private", queue=False)
    return line
