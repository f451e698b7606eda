"""The Evaluate tab's line before a run: the uploaded zip's images x the ticked models, against the
budget of one evaluation, and the time the run should take here (`core.evaluation.budget`)."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

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
    return estimate_line(
        images,
        len(keys),
        estimate_seconds(images, keys),
        settings.eval_max_image_models,
        settings.eval_time_limit_minutes,
    )


def estimate_line(images: int, models: int, seconds: float, budget: int, limit_minutes: float) -> str:
    """The Evaluate tab's line before a run: its size against the budget, and its time against the limit."""
    if images * models > budget:
        return (
            f"**Over the budget:** {images:,} images x {models} model(s) is {images * models:,}; one run "
            f"takes at most {budget:,} images x models. Pick fewer models, or zip fewer images."
        )
    took = f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"
    line = f"**Estimate:** {images:,} images x {models} model(s): {took} on this server."
    if limit_minutes > 0 and seconds > limit_minutes * 60:
        line += (
            f" That is over the time limit of {limit_minutes:g} min: the run would be stopped. Pick fewer."
        )
    return line


def build_estimate(file: gr.File, models: gr.CheckboxGroup) -> gr.Markdown:
    """The estimate line, inside the current layout, kept up to date as the file or the models change
    (in the browser only: not an API endpoint)."""
    line = gr.Markdown(elem_id="eval-estimate")
    for trigger in (file.change, models.change):
        trigger(estimate, [file, models], line, api_visibility="private", queue=False)
    return line
