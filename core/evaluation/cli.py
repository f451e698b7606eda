"""`python app.py eval zeroshot|retrieval`: the command line of the evaluation tools.

Only this module prints: a progress bar per model while it runs, then a table with the best model
marked, the images skipped, the models that could not run, and where the JSON, CSV and plots went.
Errors a user can cause are raised as `SiglipProjectsError`, which app.py prints as `error: ...`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.limits import check_choice, check_path
from core.registry import CORE_MODELS, MODELS, get_spec

ZEROSHOT_EXAMPLES = """examples:
  # a folder with one sub-folder of images per class (cat/, dog/, golden_retriever/...)
  python app.py eval zeroshot --folder ~/photos-by-class --json results.json --plots plots/

  # some models, CLIP's 80 ImageNet prompts, labels in German (for NLLB-CLIP's tokenizer)
  python app.py eval zeroshot --folder ./tiere --models siglip2,nllb-clip,mclip --templates ensemble \\
      --language deu_Latn

  # a Hugging Face dataset with a class-label column (ClassLabel names are the class names)
  python app.py eval zeroshot --dataset ./my_saved_dataset --label-column label --split test
"""

RETRIEVAL_EXAMPLES = """examples:
  # images with a metadata.jsonl (or .csv): {"file_name": "a.jpg", "caption": "a dog on a beach"}
  python app.py eval retrieval --folder ~/captioned --json retrieval.json --plots plots/

  # a dataset with an image column and a caption column (a list of captions per image works too)
  python app.py eval retrieval --dataset ./flickr30k_test --caption-column caption --models siglip,clip
"""


def add_eval_commands(parser: argparse.ArgumentParser) -> None:
    """Add `zeroshot` and `retrieval` under the `eval` command; each sets `run(args, settings)`."""
    commands = parser.add_subparsers(dest="eval_command", metavar="{zeroshot,retrieval}")
    parser.set_defaults(run=lambda args, settings: parser.print_help() or 0)
    zeroshot = _command(
        commands, "zeroshot", "Zero-shot classification accuracy of each model.", ZEROSHOT_EXAMPLES
    )
    data = _common(
        zeroshot, "--label-column", "label", "Column of class labels (with --dataset; default: label)."
    )
    data.add_argument(
        "--classnames",
        help="Replace the class names, in label order, by CLIP_benchmark's for a data set (e.g. imagenet1k).",
    )
    prompts = zeroshot.add_mutually_exclusive_group()
    prompts.add_argument(
        "--template", help='Sentence with {} for the class name (default: "This is a photo of {}.").'
    )
    prompts.add_argument(
        "--templates",
        help="A prompt ensemble averaged per class: 'ensemble' (CLIP's 80 ImageNet prompts) or a data set "
        "of CLIP_benchmark (cifar10, food101...).",
    )
    zeroshot.set_defaults(run=run_zeroshot)
    retrieval = _command(
        commands, "retrieval", "Image-text retrieval recall@k of each model.", RETRIEVAL_EXAMPLES
    )
    _common(retrieval, "--caption-column", "caption", "Column of captions (default: caption).")
    retrieval.set_defaults(run=run_retrieval)


def _command(commands: Any, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name, help=help, description=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _common(command: argparse.ArgumentParser, column: str, default: str, help: str) -> Any:
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="Folder of images (see the examples).")
    source.add_argument("--dataset", help="Hugging Face dataset name, or a folder saved with save_to_disk.")
    data = command.add_argument_group("dataset options")
    data.add_argument(column, default=default, help=help)
    data.add_argument("--image-column", default="image", help="Column of images (default: image).")
    data.add_argument("--split", default="train", help="Dataset split (default: train).")
    data.add_argument("--config", help="Dataset configuration, if it has several.")
    data.add_argument("--limit", type=int, help="Read only the first N rows (streamed from the Hub).")
    command.add_argument(
        "--models",
        help=f"Comma-separated model keys (default: {','.join(CORE_MODELS)}; presets: "
        f"{','.join(key for key in MODELS if key not in CORE_MODELS)}) or checkpoint references (a Hub "
        "id, a local folder, open_clip:NAME@TAG); one that cannot load is reported and skipped.",
    )
    command.add_argument("--language", help="Language code of the texts for NLLB-CLIP (default: guessed).")
    command.add_argument("--json", type=Path, help="Write the results as JSON here.")
    command.add_argument("--csv", type=Path, help="Write one row per model as CSV here.")
    command.add_argument("--plots", type=Path, help="Write PNG plots into this folder.")
    command.add_argument(
        "--batch-size", type=int, default=argparse.SUPPRESS, help="Images or texts per model call."
    )
    command.add_argument(
        "--image-runtime",
        default="auto",
        help="auto (default): on the CPU, time torch and ONNX Runtime fp32/int8 on the first batch and keep "
        "the fastest that agrees with fp32 (cosine >= 0.999); torch; or onnx-int8.",
    )
    return data


def _options(args: argparse.Namespace, templates: tuple[str, ...] = ()) -> Any:
    from core.evaluation import EvalOptions
    from core.evaluation.runner import model_keys
    from core.index.build.options import IMAGE_RUNTIMES

    for flag in ("json", "csv", "plots"):  # before any work: a path the system cannot take
        if getattr(args, flag, None) is not None:
            check_path(getattr(args, flag), f"--{flag}")

    models = tuple(key.strip() for key in (args.models or "").split(",") if key.strip())
    model_keys(models)  # an unknown key fails before any data is read
    batch_size = getattr(args, "batch_size", None)
    if batch_size is not None and batch_size < 1:
        raise InvalidInputError(f"--batch-size must be at least 1, got {batch_size}.")
    check_choice("--image-runtime", args.image_runtime, IMAGE_RUNTIMES)
    return EvalOptions(models=models, language=args.language, batch_size=batch_size,
                       image_runtime=args.image_runtime, **(
        {"templates": templates} if templates else {}
    ))  # fmt: skip


def _refuse_dataset_options(args: argparse.Namespace, column: str, default: str) -> None:
    given = [
        flag
        for flag, value, unset in (
            ("--split", args.split, "train"), ("--config", args.config, None), ("--limit", args.limit, None),
            ("--image-column", args.image_column, "image"), (f"--{column.replace('_', '-')}",
            getattr(args, column), default),
        )
        if value != unset
    ]  # fmt: skip
    if given:
        raise InvalidInputError(f"{', '.join(given)} only apply to --dataset, not to --folder.")


def run_zeroshot(args: argparse.Namespace, settings: Settings) -> int:
    from core import evaluation
    from core.evaluation.prompts import resolve_templates

    templates = resolve_templates(args.template, args.templates)
    options = _options(args, templates)
    if args.folder is not None:
        _refuse_dataset_options(args, "label_column", "label")
        data = evaluation.read_class_folder(args.folder)
    else:
        data = evaluation.read_classification_dataset(
            args.dataset, label_column=args.label_column, image_column=args.image_column,
            split=args.split, config=args.config, limit=args.limit,
        )  # fmt: skip
    if args.classnames:
        names = evaluation.benchmark_class_names(args.classnames, len(data.classes))
        data = replace(data, classes=tuple(names), notes=(*data.notes, f"Class names: {args.classnames}'s."))
    return _finish(_with_bars(evaluation.evaluate_zeroshot, data, options, settings), args)


def run_retrieval(args: argparse.Namespace, settings: Settings) -> int:
    from core import evaluation

    options = _options(args)
    if args.folder is not None:
        _refuse_dataset_options(args, "caption_column", "caption")
        data = evaluation.read_caption_folder(args.folder)
    else:
        data = evaluation.read_retrieval_dataset(
            args.dataset, caption_column=args.caption_column, image_column=args.image_column,
            split=args.split, config=args.config, limit=args.limit,
        )  # fmt: skip
    return _finish(_with_bars(evaluation.evaluate_retrieval, data, options, settings), args)


def _with_bars(evaluate: Any, data: Any, options: Any, settings: Settings) -> Any:
    bars = ModelBars()
    try:
        return evaluate(data, options, settings=settings, progress=bars)
    finally:
        bars.close()


class ModelBars:
    """One tqdm bar per model (items/s, time left), driven by the runner's progress callback."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.bar: Any = None

    def __call__(self, key: str, done: int, total: int, stage: str) -> None:
        from tqdm import tqdm

        if key != self.key:
            self.close()
            self.key = key
            self.bar = tqdm(desc=f"{get_spec(key).name:<20}", unit="item", dynamic_ncols=True, leave=True)
        if total and self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()
        self.bar.set_postfix_str(stage, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _finish(report: Any, args: argparse.Namespace) -> int:
    print(format_report(report))
    written = []
    if args.json:
        written.append(report.write_json(args.json))
    if args.csv:
        written.append(report.write_csv(args.csv))
    if args.plots:
        from core.evaluation import write_plots

        written += list(write_plots(report, args.plots).values())
    if written:
        print("Wrote: " + ", ".join(str(path) for path in written))
    return 0


def format_report(report: Any) -> str:
    """The terminal summary: the table (models as rows, best marked), then skipped images and models."""
    from core.evaluation.prompts import describe_templates

    if report.task == "zeroshot":
        head = (
            f"Zero-shot classification: {report.images:,} images, {len(report.classes)} classes, "
            f"prompts: {describe_templates(report.templates)}"
        )
        columns = [
            ("top-1", "top1"),
            ("top-5", "top5"),
            ("mean/class", "mean_per_class_recall"),
            ("none", "abstain"),
        ]
    else:
        head = f"Image-text retrieval: {report.images:,} images, {report.captions:,} captions"
        columns = [(f"{d} R@{k}", f"{d} R@{k}") for d in ("i2t", "t2i") for k in (1, 5, 10)]
    rows = report.summary_rows()
    width = max([len(row["name"]) for row in rows] + [5])
    titles = [title for title, _ in columns] + ["img/s", "memory"]
    lines = [head, "", f"  {'model':<{width}}  " + "  ".join(f"{title:>10}" for title in titles)]
    for row in rows:
        cells = ["—" if row[field] is None else f"{row[field]:.1%}" for _, field in columns]
        cells += [_number(row["images_per_second"], "{:,.1f}"), _number(row["memory_mb"], "{:,.1f} MB")]
        mark = "*" if row["best"] else " "
        lines.append(f"{mark} {row['name']:<{width}}  " + "  ".join(f"{cell:>10}" for cell in cells))
    lines.append("")
    lines.append(
        f"img/s: images embedded per second (decoding included), measured on {report.machine}; memory: "
        "the model's weights. Worth its cost here: "
        + ", ".join(report.results[key].name for key in report.frontier)
        + " (no other model is both faster and better; --plots draws it as tradeoff.png)."
    )
    lines.append(
        "* best model" + (" (top-1 accuracy)." if report.task == "zeroshot" else " (mean recall@k).")
    )
    if report.task == "zeroshot":
        lines.append(
            '"none": share of images whose best class scores below 0.5, i.e. the model says "none of these". '
            "SigLIP models score each class on its own and can abstain; softmax models (CLIP, NLLB-CLIP, "
            "multilingual CLIP) always pick a class (—)."
        )
    lines += [f"Note: {note}" for note in report.notes]
    lines += report.runtime_notes()
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} image(s) that could not be read:")
        lines += [f"  {s.item}: {s.reason}" for s in report.skipped[:20]]
        lines += [f"  ... and {len(report.skipped) - 20} more"] if len(report.skipped) > 20 else []
    for key, reason in report.unavailable.items():
        lines.append(f"Not evaluated: {key}: {reason}")
    return "\n".join(lines)


def _number(value: float | None, shape: str) -> str:
    return "—" if value is None else shape.format(value)
