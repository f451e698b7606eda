"""`python app.py index build|search|info`: the command line of the index tools.

Only this module prints; the core functions report through return values and a progress callback.
Errors a user can cause are raised as `SiglipProjectsError`, which app.py prints as `error: ...`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.registry import MODELS

BUILD_EXAMPLES = """examples:
  # a folder of images (recursive); re-run it to add new images and drop deleted ones
  python app.py index build photos --folder ~/Pictures --model-key siglip

  # the first 2,000 WikiArt paintings, streamed (only those rows are downloaded)
  python app.py index build wikiart --dataset huggan/wikiart --split train --limit 2000

  # a text index from a file (.txt: one text per line; .csv/.jsonl: --text-column)
  python app.py index build captions --texts captions.csv --text-column caption

  # a text index from a dataset column
  python app.py index build poems --dataset ./my_dataset --text-column verse

  # a different model, or replace an index built with another model
  python app.py index build photos --folder ~/Pictures --model-key siglip2 --rebuild

An interrupted build resumes where it stopped when the same command is run again.
Global flags go before `index`: python app.py --batch-size 16 --index-dir /data/indexes index build ...
"""

SEARCH_EXAMPLES = """examples:
  python app.py index search photos --text "a dog on a beach" -k 5    # text to image
  python app.py index search photos --image query.jpg                 # image (or sketch) to image
  python app.py index search captions --image query.jpg               # image to text
  python app.py index search captions --text "a red car" --json       # text to text, as JSON
"""

INFO_EXAMPLES = """examples:
  python app.py index info                  # every index: kind, model, items, type, size
  python app.py index info photos           # one index: its manifest
  python app.py index info photos --verify  # and check every file and thumbnail checksum
"""


def add_index_commands(parser: argparse.ArgumentParser) -> None:
    """Add `build`, `search` and `info` under the `index` command; each sets `run(args, settings)`."""
    commands = parser.add_subparsers(dest="index_command", metavar="{build,search,info}")
    parser.set_defaults(run=lambda args, settings: parser.print_help() or 0)
    _add_build(commands)
    _add_search(commands)
    _add_info(commands)


def _command(commands: Any, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name, help=help, description=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _add_build(commands: Any) -> None:
    from core.index.build import DEFAULT_MODEL_KEY, IMAGE_RUNTIMES, THUMBNAIL_SIZE
    from core.index.faiss_index import EXACT_THRESHOLD, IVF_THRESHOLD

    build = _command(commands, "build", "Build or update an index of images or texts.", BUILD_EXAMPLES)
    build.add_argument("name", help="Index name; it is stored in <index-dir>/<name>/.")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="Folder of images (searched recursively).")
    source.add_argument("--dataset", help="Hugging Face dataset name or local path (streamed).")
    source.add_argument("--texts", type=Path, help="Text file: .txt (one text per line), .csv or .jsonl.")
    build.add_argument(
        "--model-key",
        default=DEFAULT_MODEL_KEY,
        choices=list(MODELS),
        help=f"Model that embeds the items (default: {DEFAULT_MODEL_KEY}). Its checkpoint can be changed "
        "with the global --model SLOT=VALUE.",
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
        default="torch",
        help="onnx-int8: embed images with an int8 image tower on ONNX Runtime (CPU; about 1.4x faster "
        "than bf16 without AMX), used only if its first batch agrees with fp32 at cosine >= 0.999.",
    )
    build.set_defaults(run=run_build)


def _add_search(commands: Any) -> None:
    search = _command(commands, "search", "Search an index with a text or an image.", SEARCH_EXAMPLES)
    search.add_argument("name", help="Index name.")
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help="Text query.")
    query.add_argument("--image", type=Path, help="Image file query (a drawing works too).")
    search.add_argument("-k", type=int, default=10, help="Number of results (default: 10).")
    search.add_argument("--language", help="Language code of the text query, for NLLB-CLIP.")
    search.add_argument("--json", action="store_true", help="Print the results as JSON.")
    search.set_defaults(run=run_search)


def _add_info(commands: Any) -> None:
    info = _command(commands, "info", "List the indexes, or describe one.", INFO_EXAMPLES)
    info.add_argument("name", nargs="?", help="Index name (default: list every index).")
    info.add_argument("--verify", action="store_true", help="Check every file and thumbnail checksum.")
    info.add_argument("--json", action="store_true", help="Print the manifest (or the list) as JSON.")
    info.set_defaults(run=run_info)


# --------------------------------------------------------------------------------------------------
# build


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from core.index import build

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    common = {
        "model_key": args.model_key,
        "settings": settings,
        "rebuild": args.rebuild,
        "exact_threshold": args.exact_threshold,
    }
    images = {"decode_workers": args.decode_workers, "image_runtime": args.image_runtime}
    unit = "img"
    if args.folder is not None:
        _refuse(args, "--folder", "split", "config", "caption_column", "columns", "limit", "text_column")
        task = lambda progress: build.build_image_index_from_folder(  # noqa: E731
            args.name, args.folder, progress=progress, thumbnail_size=args.thumbnail_size, **images, **common
        )
    elif args.texts is not None:
        _refuse(args, "--texts", "split", "config", "caption_column", "columns", "limit")
        unit = "text"
        task = lambda progress: build.build_text_index_from_file(  # noqa: E731
            args.name, args.texts, text_column=args.text_column or "text", language=args.language,
            progress=progress, **common,
        )  # fmt: skip
    elif args.text_column:
        unit = "text"
        task = lambda progress: build.build_text_index_from_dataset(  # noqa: E731
            args.name, args.dataset, text_column=args.text_column, split=args.split, config=args.config,
            metadata_columns=columns, limit=args.limit, language=args.language, progress=progress, **common,
        )  # fmt: skip
    else:
        task = lambda progress: build.build_image_index_from_dataset(  # noqa: E731
            args.name, args.dataset, split=args.split, config=args.config, image_column=args.image_column,
            caption_column=args.caption_column, metadata_columns=columns, limit=args.limit,
            progress=progress, thumbnail_size=args.thumbnail_size, **images, **common,
        )  # fmt: skip
    bar = ProgressBar(unit)
    try:
        report = task(bar)
    finally:
        bar.close()
    print_report(report)
    return 0


def _refuse(args: argparse.Namespace, source: str, *names: str) -> None:
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) not in (None, "train")]
    if given:
        raise InvalidInputError(f"{', '.join(given)} cannot be used with {source}.")


class ProgressBar:
    """A tqdm bar (items/s and ETA) driven by the builders' `progress(done, total)` callback."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total or None, initial=done, unit=self.unit, dynamic_ncols=True, smoothing=0.1
            )
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def print_report(report: Any) -> None:
    unit = "img" if report.kind == "image" else "text"
    changes = (
        f"added {report.added}, updated {report.updated}, kept {report.kept}, removed {report.removed}"
        + (f", resumed {report.resumed}" if report.resumed else "")
    )
    index_type = report.index_type
    params = report.index_params
    if report.index_type == "hnsw":
        index_type += (
            f" (M={params['M']}, efSearch={params['ef_search']}, recall@10={params['recall_at_10']})"
        )
    elif report.index_type == "ivf":
        index_type += (
            f" (nlist={params['nlist']}, nprobe={params['nprobe']}, recall@10={params['recall_at_10']})"
        )
    lines = [
        f"Index '{report.name}' ({report.kind}, model {report.model_key}, {index_type}): {report.path}",
        f"  items:   {report.count} ({changes})",
        f"  skipped: {len(report.skipped)}",
        *[f"    {s.item}: {s.reason}" for s in report.skipped[:20]],
        *([f"    ... and {len(report.skipped) - 20} more"] if len(report.skipped) > 20 else []),
        f"  speed:   {report.items_per_second:.1f} {unit}/s ({report.embedded} embedded in "
        f"{report.embed_seconds:.1f} s; {report.seconds:.1f} s in all)",
        f"  size:    {_size(report.size_bytes)} on disk",
        *[f"  note:    {note}" for note in report.notes],
    ]
    print("\n".join(lines))


# --------------------------------------------------------------------------------------------------
# search


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    from core.index import load_index, search

    index = load_index(args.name, settings=settings)
    query: Any = args.text if args.text is not None else args.image
    if args.image is not None and not args.image.is_file():
        raise InvalidInputError(f"The query image {args.image} does not exist.")
    hits = search(index, query, k=args.k, language=args.language, settings=settings)
    if args.json:
        rows = [{**asdict(hit), "thumbnail": str(hit.thumbnail) if hit.thumbnail else None} for hit in hits]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print(f"Index '{args.name}' is empty.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>3}. {hit.score:.4f}  {describe_hit(hit.metadata, hit.id)}")
        if hit.thumbnail is not None:
            print(f"     {hit.thumbnail}")
    if 0 < len(hits) < args.k:
        print(f"(k={args.k} is more than the index holds: these are all {len(hits)} items.)")
    return 0


def describe_hit(metadata: dict[str, Any], row: int) -> str:
    """One line for a result: its title, path or text, then the other descriptive fields."""
    label_fields = ("title", "path", "text")
    fallback = f"row {metadata.get('row', row)}"
    label = next((str(metadata[f]) for f in label_fields if metadata.get(f)), fallback)
    extra = [str(metadata[f]) for f in ("artist", "style", "genre", "caption") if metadata.get(f)]
    return label + (f"  ({' · '.join(extra)})" if extra else "")


# --------------------------------------------------------------------------------------------------
# info


def run_info(args: argparse.Namespace, settings: Settings) -> int:
    from core.index import list_indexes, load_index, verify_index
    from core.index.store import index_path, read_manifest, size_on_disk

    if args.name is None:
        return _print_list(list_indexes(settings), settings, args.json)
    folder = index_path(args.name, settings)
    manifest = read_manifest(folder)
    if args.verify:
        verify_index(args.name, settings)
    else:
        load_index(args.name, settings=settings, mmap=True)  # checks the data files and their checksums
    if args.json:
        print(manifest.to_json(), end="")
        return 0
    params = ", ".join(f"{k}={v}" for k, v in manifest.index_params.items())
    source = ", ".join(f"{k}={v}" for k, v in manifest.source.items() if v not in (None, [], ""))
    last = manifest.last_build
    lines = [
        f"Index '{manifest.name}' at {folder}",
        f"  kind:      {manifest.kind}",
        f"  model:     {manifest.model_key} ({manifest.model_id}), {manifest.dim}-d, {manifest.metric}",
        f"  items:     {manifest.count}",
        f"  type:      {manifest.index_type}" + (f" ({params})" if params else "")
        + f", exact up to {manifest.exact_threshold:,}",
        f"  source:    {source}",
        *([f"  language:  {manifest.language}"] if manifest.language else []),
        f"  created:   {manifest.created}, updated {manifest.updated}",
        "  last run:  " + ", ".join(f"{k} {v}" for k, v in last.items() if k != "skipped_items"),
        f"  size:      {_size(size_on_disk(folder))} on disk",
        f"  checksums: {'files and thumbnails verified' if args.verify else 'data files verified'}",
    ]  # fmt: skip
    print("\n".join(lines))
    return 0


def _print_list(infos: list[Any], settings: Settings, as_json: bool) -> int:
    from core.index.store import LOCK, MANIFEST, index_root

    root = index_root(settings)
    if as_json:
        rows = [{**asdict(info), "path": str(info.path)} for info in infos]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    unfinished = sorted(
        p.name for p in root.glob("*") if p.is_dir() and (p / LOCK).exists() and not (p / MANIFEST).exists()
    )
    if not infos and not unfinished:
        print(f"No indexes in {root}. Build one with: python app.py index build NAME --folder PATH")
        return 0
    print(f"Indexes in {root}:")
    width = max([len(info.name) for info in infos] + [4])
    for info in infos:
        print(
            f"  {info.name:<{width}}  {info.kind:<5}  {info.model_key:<19}  {info.count:>9,} items  "
            f"{info.index_type:<4}  {_size(info.size_bytes):>9}  updated {info.updated}"
        )
    for name in unfinished:
        print(f"  {name:<{width}}  unfinished build: re-run its `index build` command to resume it")
    return 0


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} B"
