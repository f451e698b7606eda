"""Evaluation of every model on the user's own data: zero-shot classification and image-text retrieval.

    from core.evaluation import EvalOptions, evaluate_zeroshot, read_class_folder, write_plots

    data = read_class_folder("~/photos-by-class")            # one sub-folder per class
    report = evaluate_zeroshot(data, EvalOptions(models=("siglip", "siglip2", "clip")))
    print(report.best, report.results[report.best].metrics.top1)
    report.write_json("results.json")
    write_plots(report, "plots/")

Importing this package loads no model and imports no ML library; matplotlib loads when a plot is drawn.
"""

from core.evaluation.data import (
    ClassificationData,
    ImageRef,
    Limits,
    RetrievalData,
    read_caption_folder,
    read_class_folder,
)
from core.evaluation.dataset_reader import read_classification_dataset, read_retrieval_dataset
from core.evaluation.plots import write_plots
from core.evaluation.prompts import benchmark_class_names, ensemble_names, resolve_templates
from core.evaluation.report import EvalReport, ModelResult, SkippedImage
from core.evaluation.runner import EvalOptions, Progress, evaluate_retrieval, evaluate_zeroshot

__all__ = [
    "ClassificationData",
    "EvalOptions",
    "EvalReport",
    "ImageRef",
    "Limits",
    "ModelResult",
    "Progress",
    "RetrievalData",
    "SkippedImage",
    "benchmark_class_names",
    "ensemble_names",
    "evaluate_retrieval",
    "evaluate_zeroshot",
    "read_caption_folder",
    "read_class_folder",
    "read_classification_dataset",
    "read_retrieval_dataset",
    "resolve_templates",
    "write_plots",
]
