"""Running an evaluation: every model in turn over the same data, one report for all of them.

For each model the images are embedded once (the batched fast path of index builds) and shared by
every class prompt; class prompts go through the label cache. A model that cannot be loaded or used is
reported and skipped; the others run. Unreadable images are skipped and listed. Only the CLI and the
app print or draw: this module returns an `EvalReport`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.config import Settings, get_settings
from core.encoders.runtimes import RuntimeChoice
from core.errors import InvalidInputError, ModelLoadError, SiglipProjectsError
from core.evaluation import embedding
from core.evaluation.data import ClassificationData, ImageRef, RetrievalData, unique_names
from core.evaluation.metrics import ZeroShotMetrics, recall_at_k, zeroshot_metrics
from core.evaluation.report import EvalReport, ModelResult, SkippedImage, Task
from core.index.build.options import IMAGE_RUNTIMES, EmbedOptions
from core.languages import detect_language
from core.limits import check_choice
from core.registry import CORE_MODELS, get_spec
from core.zeroshot import DEFAULT_TEMPLATE

#: Called with (model key, items done, items in all, what is running) as each model's run advances;
#: items are its images, then its class prompts or captions.
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class EvalOptions:
    """How to run: which models (empty: every model of the registry but the presets), the class-name
    templates, the texts' language code (None: guessed from the class names or captions, for
    NLLB-CLIP), images or texts per model call (None: the settings' batch size), and the image
    runtime on the CPU ("auto": measured on the first batch, as index builds do; "torch";
    "onnx-int8")."""

    models: tuple[str, ...] = ()
    templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)
    language: str | None = None
    batch_size: int | None = None
    image_runtime: str = "auto"


def model_keys(models: Sequence[str]) -> list[str]:
    """The models to run, in the order given (when empty: every registry model but the presets), without
    repeats: registry keys or checkpoint references (each resolved once here, so a bad one fails before
    any work).

    Raises:
        UnknownModelError: neither a registry key nor a supported checkpoint reference.
        ModelLoadError: a reference whose config cannot be read.
    """
    keys = list(dict.fromkeys(key.strip() for key in models if key.strip())) or list(CORE_MODELS)
    for key in keys:
        get_spec(key)
    return keys


class _ModelRun:
    """One model over one data set: loads it, embeds the images, reports progress and time."""

    def __init__(
        self, key: str, settings: Settings, options: EvalOptions, texts: int, progress: Progress | None
    ):
        self.key, self.options, self.progress = key, options, progress
        self.batch_size = options.batch_size or settings.batch_size
        self.texts = texts
        self.report("loading", 0, 0)
        self.runtime_options = EmbedOptions(image_runtime=options.image_runtime, precision=settings.precision)
        self.runtime: RuntimeChoice | None = None
        self.encoder = embedding.load_encoder(key, settings)
        self.started = time.perf_counter()
        self.image_seconds = 0.0

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(self.key, done, total, stage)

    def images(self, images: Sequence[ImageRef]) -> tuple[np.ndarray, dict[int, str]]:
        total = len(images) + self.texts
        self.report("images", 0, total)
        started = time.perf_counter()
        vectors, skipped, self.runtime = embedding.embed_images(
            self.encoder,
            images,
            self.batch_size,
            lambda done: self.report("images", done, total),
            self.runtime_options,
        )
        self.image_seconds = time.perf_counter() - started
        self.offset, self.total = len(images), total
        return vectors, skipped

    def advance_texts(self, done: int) -> None:
        self.report("texts", self.offset + done, self.total)

    def result(
        self, metrics: ZeroShotMetrics | None = None, recall: dict[str, dict[str, float]] | None = None
    ) -> ModelResult:
        count = self.offset
        details = {
            **embedding.describe(self.encoder),
            "image_seconds": round(self.image_seconds, 3),
            "images_per_second": round(count / self.image_seconds, 2) if self.image_seconds else None,
            **({"image_runtime": self.runtime.record()} if self.runtime is not None else {}),
        }
        seconds = time.perf_counter() - self.started
        name = get_spec(self.key).name
        return ModelResult(self.key, name, seconds, details, metrics=metrics, recall=recall)


def evaluate_zeroshot(
    data: ClassificationData,
    options: EvalOptions = EvalOptions(),
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Zero-shot classification of `data`'s images against its class names, model by model.

    Returns:
        The EvalReport (metrics per model; models that could not run in `unavailable`).

    Raises:
        InvalidInputError: bad templates or options; a class left without a readable image.
        UnknownModelError: a key not in the registry.
        ModelLoadError: no model could run.
    """
    settings = settings or get_settings()
    keys = model_keys(options.models)
    check_choice("image_runtime", options.image_runtime, IMAGE_RUNTIMES)
    templates = options.templates or (DEFAULT_TEMPLATE,)
    language = options.language or detect_language(data.classes)
    results: dict[str, ModelResult] = {}
    unavailable: dict[str, str] = {}
    skipped: dict[int, str] = {}
    for key in keys:
        try:  # everything that depends on the model alone: a failure here skips only this model
            run = _ModelRun(key, settings, options, len(data.classes) * len(templates), progress)
            vectors, failed = run.images(data.images)
            classes = embedding.embed_classes(
                run.encoder, data.classes, templates, language, run.advance_texts
            )
        except SiglipProjectsError as error:
            unavailable[key] = str(error)
            continue
        kept = [n for n in range(len(data.images)) if n not in failed]
        _check_every_class_read(data, kept, failed)
        scores = embedding.class_scores(run.encoder, vectors, classes)
        labels = [data.labels[n] for n in kept]
        metrics = zeroshot_metrics(scores, labels, sigmoid=embedding.is_sigmoid(run.encoder))
        results[key] = run.result(metrics=metrics)
        skipped.update(failed)
    return _report(data, "zeroshot", results, unavailable, skipped, templates, language)


def _check_every_class_read(
    data: ClassificationData | RetrievalData, kept: list[int], failed: dict[int, str]
) -> None:
    """Raises: InvalidInputError: no image could be read, or none of some class."""
    if not kept:
        first = "; ".join(f"{data.images[n].name}: {reason}" for n, reason in list(failed.items())[:3])
        raise InvalidInputError(f"No image of {data.source} could be read ({first}).")
    if not isinstance(data, ClassificationData):
        return
    read = {data.labels[n] for n in kept}
    for number, name in enumerate(data.classes):
        if number not in read:
            example = next(
                (f" ({data.images[n].name}: {r})" for n, r in failed.items() if data.labels[n] == number), ""
            )
            raise InvalidInputError(
                f"No image of the class '{name}' could be read{example}. "
                "Replace its images or remove the class."
            )


def evaluate_retrieval(
    data: RetrievalData,
    options: EvalOptions = EvalOptions(),
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Image-to-text and text-to-image retrieval over `data`'s images and captions, model by model.

    Returns, Raises: as `evaluate_zeroshot` (no templates: the captions are the texts).
    """
    settings = settings or get_settings()
    keys = model_keys(options.models)
    check_choice("image_runtime", options.image_runtime, IMAGE_RUNTIMES)
    language = options.language or detect_language(data.captions[:200])
    results: dict[str, ModelResult] = {}
    unavailable: dict[str, str] = {}
    skipped: dict[int, str] = {}
    for key in keys:
        try:
            run = _ModelRun(key, settings, options, len(data.captions), progress)
            vectors, failed = run.images(data.images)
            position = {n: row for row, n in enumerate(n for n in range(len(data.images)) if n not in failed)}
            asked = [j for j, n in enumerate(data.caption_image) if n in position]
            captions = embedding.embed_captions(
                run.encoder, [data.captions[j] for j in asked], language, run.batch_size, run.advance_texts
            )
        except SiglipProjectsError as error:
            unavailable[key] = str(error)
            continue
        if not position:
            _check_every_class_read(data, [], failed)
        recall = recall_at_k(vectors @ captions.T, [position[data.caption_image[j]] for j in asked])
        results[key] = run.result(recall=recall)
        skipped.update(failed)
    return _report(data, "retrieval", results, unavailable, skipped, (), language)


def _report(
    data: ClassificationData | RetrievalData,
    task: Task,
    results: dict[str, ModelResult],
    unavailable: dict[str, str],
    skipped: dict[int, str],
    templates: Sequence[str],
    language: str | None,
) -> EvalReport:
    if not results:
        reasons = "; ".join(f"{key}: {reason}" for key, reason in unavailable.items())
        raise ModelLoadError(f"No model could be evaluated. {reasons}")
    return EvalReport(
        task=task,
        source=data.source,
        images=len(data.images) - len(skipped),
        results=results,
        classes=unique_names(getattr(data, "classes", ())),
        captions=len(getattr(data, "captions", ())),
        templates=tuple(templates),
        language=language,
        unavailable=unavailable,
        skipped=tuple(SkippedImage(data.images[n].name, reason) for n, reason in sorted(skipped.items())),
        notes=tuple(data.notes) + _top5_note(data),
        machine=embedding.machine(str(result.details.get("device", "cpu")) for result in results.values()),
    )


def _top5_note(data: ClassificationData | RetrievalData) -> tuple[str, ...]:
    classes = len(getattr(data, "classes", ()))
    return ("With 5 classes or fewer, top-5 accuracy is always 100%.",) if 0 < classes <= 5 else ()
