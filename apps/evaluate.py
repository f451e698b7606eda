"""Tab "Evaluate on your data": upload a zip, pick models, compare their accuracy on it.

UI only: `core.evaluation.uploads.evaluate_upload` unpacks, checks, evaluates and draws; this module
turns its report into a table, pictures and files, and its errors into `gr.Error`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gradio as gr

from apps import texts
from apps.common import language_dropdown, user_error
from apps.components import guarded, template_input
from apps.evaluate_estimate import build_estimate
from core.config import Settings
from core.errors import SiglipProjectsError
from core.evaluation.prompts import ENSEMBLE, resolve_templates
from core.evaluation.runner import EvalOptions
from core.evaluation.uploads import UploadResult, evaluate_upload
from core.limits import check_choice, check_text, quote
from core.registry import MODELS, get_spec
from core.zeroshot import DEFAULT_TEMPLATE

DEFAULT_MODELS: tuple[str, ...] = ("siglip", "siglip2", "clip")
#: Longest "Other checkpoints" field: a few references.
MAX_OTHER_MODELS_CHARS = 2000
OTHER_MODELS_HELP = (
    "More models, comma-separated: any compatible checkpoint, e.g. google/siglip2-base-patch16-256, "
    "facebook/metaclip-2-worldwide-s16, open_clip:ViT-B-16-SigLIP2@webli, or a folder on the server."
)
#: The table's last columns: measured speed, the weights' memory, and the run's time.
SPEED_HEADERS = ("img/s", "memory (MB)", "seconds")
TASK_CHOICES = [
    ("Classification: one folder per class", "zeroshot"),
    ("Retrieval: images + captions", "retrieval"),
]
#: Evaluations are long: one at a time, in their own queue, so the other tabs keep answering.
EVALUATE_CONCURRENCY_ID = "evaluate"
#: (status, table, accuracy or recall plot, per-class plot, confusion matrices, JSON, files).
EvaluateOutput = tuple[
    str, dict[str, Any], str | None, str | None, list[tuple[str, str]], dict[str, Any], list[str]
]


def evaluate(
    file: str | None,
    task: str = "zeroshot",
    models: Sequence[str] | None = DEFAULT_MODELS,
    template: str = DEFAULT_TEMPLATE,
    ensemble: bool = False,
    language: str = texts.LANGUAGE_AUTO,
    other_models: str = "",
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's way of asking for a progress bar
) -> EvaluateOutput:
    """Evaluate models on your own labelled images: which model classifies (or retrieves) them best.

    Args:
        file: A .zip of class folders (cat/, dog/, ...) for "zeroshot", or of images with a
            metadata.jsonl/csv of captions (file_name, caption) for "retrieval".
        task: "zeroshot" (classification among the folder names) or "retrieval" (image<->caption).
        models: Model keys to compare, e.g. ["siglip", "siglip2", "clip"].
        template: Sentence with one {} for the class name, e.g. "This is a photo of {}.".
        ensemble: Average CLIP's 80 ImageNet prompts per class instead of the template.
        language: NLLB language code of the class names or captions, or "auto" to guess.
        other_models: More models to compare, comma-separated: checkpoint references (a Hub id such
            as google/siglip2-base-patch16-256, a folder on the server, open_clip:NAME@TAG) or keys.

    Returns:
        (status, table, plot, per_class_plot, confusion_matrices, results_json, files): a Markdown
        summary naming the best model, one table row per model, the accuracy bar chart (retrieval:
        recall@k curves), the per-class heatmap (None for retrieval), one PNG per confusion matrix,
        the results as JSON (the `--json` shape of the command line), and the JSON, CSV and PNG files.
    """
    if not file:
        raise gr.Error(texts.EVALUATE_NO_FILE, print_exception=False)
    keys = [key for key in (models or []) if key]
    keys += [part.strip() for part in (other_models or "").split(",") if part.strip()]
    if not keys:
        raise gr.Error(texts.EVALUATE_NO_MODEL, print_exception=False)
    started = time.perf_counter()
    try:
        options = EvalOptions(
            models=tuple(keys),
            templates=resolve_templates(template, ENSEMBLE if ensemble else None),
            language=None if not language or language == texts.LANGUAGE_AUTO else language,
        )
        result = evaluate_upload(file, task, options, progress=_progress(progress, keys))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    for key, reason in result.report.unavailable.items():
        gr.Warning(f"{get_spec(key).name} was not evaluated: {reason}")
    return _outputs(result, time.perf_counter() - started)


def _progress(progress: gr.Progress, keys: list[str]) -> Any:
    def update(key: str, done: int, total: int, stage: str) -> None:
        position = keys.index(key) if key in keys else 0
        share = done / total if total else 0.0
        what = {"loading": "loading", "images": "embedding images", "texts": "embedding texts"}.get(
            stage, stage
        )
        progress(
            (position + share) / len(keys), desc=f"{get_spec(key).name} ({position + 1}/{len(keys)}): {what}"
        )

    return update


def _outputs(result: UploadResult, seconds: float) -> EvaluateOutput:
    report = result.report
    best = report.results[report.best]  # type: ignore[index]
    rows = report.summary_rows()
    if report.task == "zeroshot":
        headers = ["model", "top-1", "top-5", "mean per-class recall", "none of these", *SPEED_HEADERS]
        fields = ["top1", "top5", "mean_per_class_recall", "abstain"]
        score, groups = f"{best.metrics.top1:.1%}", f"{len(report.classes)} classes"  # type: ignore[union-attr]
    else:
        headers = [
            "model",
            *(f"{d} R@{k}" for d in ("image→text", "text→image") for k in (1, 5, 10)),
            *SPEED_HEADERS,
        ]
        fields = [f"{d} R@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)]
        score, groups = f"{best.score:.1%}", f"{report.captions:,} captions"
    table = [
        [
            ("★ " if row["best"] else "") + row["name"],
            *(_percent(row[f]) for f in fields),
            row["images_per_second"],
            row["memory_mb"],
            row["seconds"],
        ]
        for row in rows
    ]
    status = [
        texts.evaluation_status(report.task, best.name, score, report.images, groups, len(rows), seconds)
    ]
    frontier = ", ".join(report.results[key].name for key in report.frontier)
    status.append(texts.TRADEOFF_NOTE.format(machine=report.machine, frontier=frontier))
    if report.task == "zeroshot":
        status.append(texts.ABSTAIN_NOTE)
    status += [f"Note: {note}" for note in report.notes]
    status += [f"Note: {line}" for line in report.runtime_notes()]
    status += [
        f"**{get_spec(key).name} was not evaluated:** {reason}" for key, reason in report.unavailable.items()
    ]
    if report.skipped:
        status.append(f"**Skipped {len(report.skipped)} image(s) that could not be read:**")
        status += [f"- `{s.item}`: {s.reason}" for s in report.skipped[:20]]
    plots = result.plots
    # No captions: each matrix's title names its model, and a caption would cover its last column.
    confusions = [str(path) for name, path in plots.items() if name.startswith("confusion:")]
    main_plot = plots.get("accuracy") or plots.get("recall")
    return (
        "\n\n".join(status),
        {"headers": headers, "data": table},
        str(main_plot) if main_plot else None,
        str(plots["per_class"]) if "per_class" in plots else None,
        confusions,
        report.to_json(),
        [str(path) for path in result.files],
    )


def tradeoff_picture(files: list[str] | None) -> str | None:
    """The accuracy-against-speed plot among a run's files (None before a run)."""
    return next((str(path) for path in files or [] if str(path).endswith("tradeoff.png")), None)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def build_evaluate_tab(settings: Settings) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    gr.Markdown(
        texts.EVALUATE_INTRO.format(
            images=settings.eval_max_images,
            classes=settings.eval_max_classes,
            upload=settings.eval_max_upload_mb,
            budget=settings.eval_max_image_models,
            minutes=settings.eval_time_limit_minutes,
        )
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            inputs = _build_inputs()
            build_estimate(inputs[0], inputs[2])  # the file, the models
            button = gr.Button("Evaluate", variant="primary", elem_id="eval-run")
        with gr.Column(scale=5):
            outputs = _build_outputs()
            tradeoff = gr.Image(
                label="Accuracy against speed", show_label=False, type="filepath", interactive=False,
                elem_id="eval-tradeoff",
            )  # fmt: skip
    task, per_class, confusion = inputs[1], outputs[3], outputs[4]
    # Retrieval has no per-class plot and no confusion matrices: show their places for classification only.
    task.change(
        lambda chosen: [gr.update(visible=chosen == "zeroshot")] * 2,
        inputs=task,
        outputs=[per_class, confusion],
        api_visibility="private",
        queue=False,
    )
    run = button.click(
        evaluate,
        inputs=inputs,
        outputs=outputs,
        api_name="evaluate",
        concurrency_id=EVALUATE_CONCURRENCY_ID,
        concurrency_limit=1,
        show_progress_on=[outputs[0]],
    )
    # The trade-off picture is one of the files: shown beside the results without changing the API.
    run.then(tradeoff_picture, inputs=outputs[6], outputs=tradeoff, api_visibility="private", queue=False)


def _build_inputs() -> list[gr.components.Component]:
    """(file, task, models, template, ensemble, language, other models): the handler's inputs, in order, each
    checking what a request sends before Gradio keeps it."""
    file = guarded(
        gr.File(label="Zip of your images", file_types=[".zip"], type="filepath", elem_id="eval-file"),
        lambda payload: None,
        "a zip file, uploaded (gradio_client: handle_file(path))",
    )
    task = guarded(
        gr.Radio(TASK_CHOICES, value="zeroshot", label="Task", elem_id="eval-task"),
        lambda payload: check_choice("Task", payload, [value for _, value in TASK_CHOICES]),
    )
    models = guarded(
        gr.CheckboxGroup(
            [(spec.name, key) for key, spec in MODELS.items()],
            value=list(DEFAULT_MODELS),
            label="Models",
            elem_id="eval-models",
        ),
        _check_models,
    )
    # None (nothing ticked, as a client may send it) reaches the handler as no model, not as Gradio's
    # unexplained "Error".
    preprocess = models.preprocess
    models.preprocess = lambda payload: preprocess([] if payload is None else payload)  # type: ignore[method-assign]
    with gr.Accordion("Options", open=False):
        template = template_input(value=DEFAULT_TEMPLATE, info=texts.TEMPLATE_HELP)
        ensemble = guarded(
            gr.Checkbox(label="Prompt ensemble", value=False, info=texts.ENSEMBLE_HELP),
            lambda payload: check_choice("Prompt ensemble", payload, (True, False)),
        )
        language = language_dropdown("Language", "Guess from the texts", texts.EVALUATE_LANGUAGE_HELP)
    other = guarded(
        gr.Textbox(value="", label="Other checkpoints", info=OTHER_MODELS_HELP, elem_id="eval-other-models"),
        lambda payload: check_text(payload, "Other checkpoints", MAX_OTHER_MODELS_CHARS),
    )
    return [file, task, models, template, ensemble, language, other]


def _build_outputs() -> list[gr.components.Component]:
    """(status, table, plot, per-class plot, confusion matrices, JSON, files): the handler's outputs."""
    status = gr.Markdown(elem_id="eval-status")
    table = gr.Dataframe(label="Results", interactive=False, wrap=True, elem_id="eval-table")
    # Labels off: each plot carries its own title, which a label badge would cover.
    plot = gr.Image(
        label="Accuracy per model", show_label=False, type="filepath", interactive=False, elem_id="eval-plot"
    )
    per_class = gr.Image(
        label="Per-class accuracy", show_label=False, type="filepath", interactive=False,
        elem_id="eval-per-class",
    )  # fmt: skip
    # Two per row: large enough to read the class names; a click opens one full size.
    confusion = gr.Gallery(
        label="Confusion matrices", show_label=False, columns=2, height="auto", object_fit="contain",
        elem_id="eval-confusion",
    )  # fmt: skip
    with gr.Accordion("Results as JSON", open=False):
        result_json = gr.JSON(label="results.json", elem_id="eval-json")
    files = gr.File(label="Download: JSON, CSV and plots", file_count="multiple", elem_id="eval-files")
    return [status, table, plot, per_class, confusion, result_json, files]


def _check_models(payload: object) -> None:
    if not isinstance(payload, list) or len(payload) > len(MODELS):
        raise gr.Error(
            f"Models must be a list of model keys ({', '.join(MODELS)}); got {quote(payload)}.",
            print_exception=False,
        )
    for key in payload:
        check_choice("Model", key, tuple(MODELS))
