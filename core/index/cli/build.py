"""`python app.py index build`: flags to a source and build options, a progress bar, the report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.index.ann.build import DEFAULT_MEMORY_BUDGET, EXACT_THRESHOLD, IVF_THRESHOLD
from core.index.build.driver import build_index
from core.index.build.options import ENGINES, IMAGE_RUNTIMES, BuildOptions
from core.index.cli.args import command, size
from core.index.cli.examples import BUILD_EXAMPLES
from core.index.cli.output import ProgressBar, print_report
from core.index.format.layout import Kind
from core.index.format.thumbnails import THUMBNAIL_SIZE
from core.index.sources import DatasetSource, FolderSource, Source, TextFileSource
from core.registry import DEFAULT_MODEL_KEY, MODELS


def add_build(commands: Any) -> None:
    build = command(commands, "build", "Build or update an index of images or texts.", BUILD_EXAMPLES)
    build.add_argument("name", help="Index name; it is stored in <index-dir>/<name>/.")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="Folder of images (searched recursively).")
    source.add_argument("--dataset", help="Hugging Face dataset name or local path (streamed).")
    source.add_argument("--texts", type=Path, help="Text file: .txt (one text per line), .csv or .jsonl.")
    build.add_argument(
        "--model-key",
        default=DEFAULT_MODEL_KEY,
        help=f"Model that embeds the items (default: {DEFAULT_MODEL_KEY}): a key ({', '.join(MODELS)}) or a "
        "checkpoint reference (a Hub id, a local folder, open_clip:NAME@TAG). A key's checkpoint can be "
        "changed with the global --model SLOT=VALUE.",
    )
    data = build.add_argument_group("dataset options")
    data.add_argument("--split", default="train", help="Dataset split (default: train).")
    data.add_argument("--config", help="Dataset configuration, if it has several.")
    data.add_argument("--image-column", default="image", help="Column of images (default: image).")
    data.add_argument(
        "--text-column",
        help="Column of texts: with --dataset it makes a text index; with --texts it names the CSV/JSONL "
        "column (default: text).",
    )
    data.add_argument("--caption-column", help="Column stored as each image's caption.")
    data.add_argument(
        "--columns",
        help="Comma-separated columns stored with each item (default: every scalar column), "
        "e.g. artist,style,genre.",
    )
    data.add_argument("--limit", type=int, help="Read only the first N rows.")
    build.add_argument("--language", help="Source-language code of the texts, for NLLB-CLIP (e.g. fra_Latn).")
    build.add_argument("--rebuild", action="store_true", help="Replace the index instead of updating it.")
    build.add_argument(
        "--exact-threshold",
        type=int,
        default=EXACT_THRESHOLD,
        help=f"Largest index searched exactly; larger ones use HNSW, and IVF above {IVF_THRESHOLD:,} rows "
        f"(default: {EXACT_THRESHOLD:,}).",
    )
    build.add_argument(
        "--thumbnail-size", type=int, default=THUMBNAIL_SIZE, help="Longer side of thumbnails in pixels."
    )
    _add_speed_options(build)
    _add_scale_options(build)
    build.set_defaults(run=run_build)


def _add_speed_options(build: argparse.ArgumentParser) -> None:
    speed = build.add_argument_group("speed options (images)")
    speed.add_argument(
        "--decode-workers",
        type=int,
        help="Processes decoding images while the model runs (default: none on the CPU, one per spare "
        "core up to 8 beside a GPU).",
    )
    speed.add_argument(
        "--image-runtime",
        choices=IMAGE_RUNTIMES,
        default="auto",
        help="auto (default): on the CPU, time torch and ONNX Runtime fp32/int8 on the first batch and keep "
        "the fastest whose embeddings agree with fp32 (cosine >= 0.999, same neighbours); torch: the "
        "model's own path; onnx-int8: an int8 tower whenever it agrees.",
    )


def _add_scale_options(build: argparse.ArgumentParser) -> None:
    scale = build.add_argument_group("scale options")
    scale.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local: this process; ray: Ray Data (decoding on CPU workers, one model replica per GPU; "
        "pip install -r requirements-ray.txt).",
    )  # fmt: skip
    scale.add_argument(
        "--ray-address",
        help="Ray cluster to join (`ray start --head` prints it; default: the Ray instance running here, "
        "or a new local one).",
    )
    scale.add_argument(
        "--ray-actors", type=int, help="Model replicas (default: one per GPU; without GPUs, one per 2 CPUs)."
    )
    scale.add_argument(
        "--memory-budget", type=size,
        help="Most RAM the index may take when searched, e.g. 4GB: larger indexes are compressed "
        f"(IVF-PQ re-ranked from float16 vectors on disk; default {DEFAULT_MEMORY_BUDGET / 2**30:g}GB).",
    )  # fmt: skip


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    source = source_from_args(args)
    options = BuildOptions(
        model_key=args.model_key, rebuild=args.rebuild, exact_threshold=args.exact_threshold,
        thumbnail_size=args.thumbnail_size, language=args.language, image_runtime=args.image_runtime,
        decode_workers=args.decode_workers, engine=args.engine, ray_address=args.ray_address,
        ray_actors=args.ray_actors, memory_budget=args.memory_budget,
    )  # fmt: skip
    bar = ProgressBar("img" if source.kind == Kind.IMAGE else "text")
    try:
        report = build_index(args.name, source, options, settings=settings, progress=bar)
    finally:
        bar.close()
    print_report(report)
    return 0


def source_from_args(args: argparse.Namespace) -> Source:
    """The source `index build` reads: --folder, --texts, or --dataset (a text column makes it texts).

    Raises:
        InvalidInputError: options that do not go with the source.
    """
    if args.folder is not None:
        _refuse(args, "--folder", "split", "config", "caption_column", "columns", "limit", "text_column")
        return FolderSource(args.folder)
    if args.texts is not None:
        _refuse(args, "--texts", "split", "config", "caption_column", "columns", "limit")
        return TextFileSource(args.texts, text_column=args.text_column or "text")
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    if args.text_column:
        return DatasetSource(
            args.dataset, kind=Kind.TEXT, column=args.text_column, split=args.split, config=args.config,
            metadata_columns=columns, limit=args.limit,
        )  # fmt: skip
    return DatasetSource(
        args.dataset, kind=Kind.IMAGE, column=args.image_column, split=args.split, config=args.config,
        caption_column=args.caption_column, metadata_columns=columns, limit=args.limit,
    )  # fmt: skip


def _refuse(args: argparse.Namespace, source: str, *names: str) -> None:
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) not in (None, "train")]
    if given:
        raise InvalidInputError(f"{', '.join(given)} cannot be used with {source}.")
