"""Building and updating indexes: batched, resumable, incremental, atomic.

A build reads the source's items in a background thread (decoding images and writing thumbnails
while the model embeds the previous batch), embeds the items the index does not already hold, and
keeps every finished batch in `<index>/.partial/` (`.npy` vectors + `.json` keys). When all items are
done it writes a new version folder and then the manifest, so an interrupted build never damages the
index it was updating, and re-running it embeds only the batches that were not finished.

Re-running a build over the same source adds new items, re-embeds changed ones (new file size or
time, new image bytes, new text) and drops items that are gone. Unreadable images are skipped and
listed in the report; they never stop a build.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings, get_settings
from core.encoders import Encoder, get_encoder
from core.encoders.base import collate
from core.errors import IndexLoadError, IndexMismatchError, InvalidInputError
from core.index import faiss_index
from core.index.faiss_index import EXACT_THRESHOLD, BuiltIndex
from core.index.loader import (
    ImageLoader,
    LoadedImage,
    decode_jpegs_to_pixels,
    encoded_jpeg,
    gpu_decode_available,
    resolve_workers,
)
from core.index.partial import PartialBuild, job_of
from core.index.sources import DatasetSource, FolderSource, Item, Source, TextFileSource, identity_of
from core.index.store import (
    INDEX_FILE,
    MANIFEST,
    METADATA_FILE,
    PARTIAL,
    Manifest,
    atomic_write,
    atomic_write_text,
    build_lock,
    file_record,
    index_path,
    metadata_lines,
    next_version,
    now_iso,
    read_manifest,
    remove_stale,
    size_on_disk,
    thumbnails_record,
    verify_files,
    write_thumbnail,
    writing,
)
from core.registry import DEFAULT_MODEL_KEY
from core.vectors import normalize

log = logging.getLogger(__name__)

#: Called with (done, total): see `build_index` for what is counted. Total is 0 when unknown.
ProgressCallback = Callable[[int, int], None]


#: Longer side of display thumbnails, in pixels (their JPEG quality: `loader.THUMBNAIL_QUALITY`).
THUMBNAIL_SIZE = 256
#: Skipped items listed in the manifest (all of them are in the BuildReport).
MANIFEST_SKIPPED_LIMIT = 200
#: Ways to run the image model in a build (see `build_image_index_from_folder`).
IMAGE_RUNTIMES = ("torch", "onnx-int8")
#: Most items the reader hands over at once (kept items need no model call but still take memory).
MAX_CHUNK = 1024


@dataclass(frozen=True)
class SkippedItem:
    """An item left out of the index: `item` names it (relative path, "row 12"...), `reason` says why."""

    item: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        name, path: The index and its folder.
        kind, model_key, model_id: What was indexed, with which model.
        count: Items in the index now.
        added: New items; updated: changed items re-embedded; kept: unchanged items reused;
            removed: items no longer in the source.
        resumed: Items taken from the finished batches of an interrupted build.
        embedded: Items embedded by this run (added + updated - resumed).
        skipped: Unreadable or empty items, with the reason.
        seconds: Wall time of the build; embed_seconds: of the model calls alone.
        size_bytes: Size of the index folder on disk.
        index_type, index_params: The FAISS index written (see Manifest).
        notes: Anything else the user should know (e.g. a damaged index that was rebuilt).
    """

    name: str
    path: Path
    kind: str
    model_key: str
    model_id: str
    count: int
    added: int
    updated: int
    kept: int
    removed: int
    resumed: int
    embedded: int
    skipped: tuple[SkippedItem, ...]
    seconds: float
    embed_seconds: float
    size_bytes: int
    index_type: str
    index_params: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def items_per_second(self) -> float:
        """Embedding speed of this run (items embedded per second of model time)."""
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


# --------------------------------------------------------------------------------------------------
# Public entry points


def build_image_index_from_folder(
    name: str,
    folder: str | os.PathLike[str],
    *,
    model_key: str = DEFAULT_MODEL_KEY,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    exact_threshold: int = EXACT_THRESHOLD,
    batch_size: int | None = None,
    thumbnail_size: int = THUMBNAIL_SIZE,
    decode_workers: int | None = None,
    image_runtime: str = "torch",
) -> BuildReport:
    """Build or update the image index `name` from every image under `folder` (recursive).

    Files ending in .jpg/.jpeg/.png/.webp/.gif/.bmp/.tif/.tiff are indexed; hidden files and folders
    and the index folder itself are left out. A `metadata.jsonl` or `metadata.csv` at the folder root
    with a `file_name` column (the Hugging Face ImageFolder convention) adds its other columns
    (title, artist, caption...) to each image's metadata.

    Args:
        name: Index name: its folder is `<index_dir>/<name>/`.
        folder: Folder of images.
        model_key: Registry key of the model (see `core.registry.MODELS`).
        settings: Index folder, batch size, device, model overrides; default: the process settings.
        progress: Called after each batch with (items embedded or skipped, items to embed).
        rebuild: Replace an existing index instead of updating it (needed to change model or folder).
        exact_threshold: Largest index searched exactly; above it HNSW.
        batch_size: Images per model call (default: the settings' batch size).
        thumbnail_size: Longer side of the display thumbnails.
        decode_workers: Processes that decode and preprocess images while the model runs; default:
            none on the CPU (the model uses every core), one per spare core (up to 8) beside a GPU.
        image_runtime: "torch", or "onnx-int8" to embed images with an int8 copy of the image tower
            on ONNX Runtime (CPU, fixed-size transformers models; about 1.4x faster than bf16 on
            CPUs without AMX). It is used only if the first batch's embeddings agree with fp32 at
            cosine >= 0.999; otherwise the build goes on with torch. The report's notes say which.

    Returns:
        The BuildReport.

    Raises:
        InvalidInputError: bad name or folder, or no usable image in it.
        IndexMismatchError: the index exists with another model (use `rebuild`).
        IndexWriteError: the index folder cannot be written (disk full, permissions) or is being built.
        UnknownModelError, ModelLoadError: the model cannot be loaded.
    """
    settings = settings or get_settings()
    source = FolderSource(folder, skip=index_path(name, settings).parent)
    return build_index(
        name, source, model_key=model_key, settings=settings, progress=progress, rebuild=rebuild,
        exact_threshold=exact_threshold, batch_size=batch_size, thumbnail_size=thumbnail_size,
        decode_workers=decode_workers, image_runtime=image_runtime,
    )  # fmt: skip


def build_image_index_from_dataset(
    name: str,
    dataset: Any,
    *,
    split: str = "train",
    config: str | None = None,
    image_column: str = "image",
    caption_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    limit: int | None = None,
    model_key: str = DEFAULT_MODEL_KEY,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    exact_threshold: int = EXACT_THRESHOLD,
    batch_size: int | None = None,
    thumbnail_size: int = THUMBNAIL_SIZE,
    decode_workers: int | None = None,
    image_runtime: str = "torch",
) -> BuildReport:
    """Build or update the image index `name` from a Hugging Face dataset.

    Args:
        name: Index name.
        dataset: A Hub name or local path (streamed: only the rows read are downloaded), or a
            `datasets.Dataset` / `IterableDataset` / `DatasetDict` object.
        split, config: Which split and configuration to read (split also picks from a DatasetDict).
        image_column: Column holding the images.
        caption_column: Column stored as the "caption" field, if any.
        metadata_columns: Columns stored with each row; default: every scalar column. Class-label
            columns are stored as readable names (WikiArt's `artist`, `style`, `genre`).
        limit: Read at most this many rows (the first ones); re-running with a larger limit adds rows.
        model_key, settings, rebuild, exact_threshold, batch_size, thumbnail_size, decode_workers,
        image_runtime: As for folders.
        progress: Called after each batch with (rows read, rows expected or 0 when unknown).

    Returns:
        The BuildReport.

    Raises:
        InvalidInputError: the dataset cannot be loaded or lacks a column; no usable image.
        IndexMismatchError, IndexWriteError, UnknownModelError, ModelLoadError: as for folders.
    """
    source = DatasetSource(
        dataset, kind="image", column=image_column, split=split, config=config,
        caption_column=caption_column, metadata_columns=metadata_columns, limit=limit,
    )  # fmt: skip
    return build_index(
        name, source, model_key=model_key, settings=settings, progress=progress, rebuild=rebuild,
        exact_threshold=exact_threshold, batch_size=batch_size, thumbnail_size=thumbnail_size,
        decode_workers=decode_workers, image_runtime=image_runtime,
    )  # fmt: skip


def build_text_index_from_file(
    name: str,
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    language: str | None = None,
    model_key: str = DEFAULT_MODEL_KEY,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    exact_threshold: int = EXACT_THRESHOLD,
    batch_size: int | None = None,
) -> BuildReport:
    """Build or update the text index `name` from a .txt (one text per line), .csv or .jsonl file.

    Args:
        name: Index name.
        path: The file. In CSV/JSONL files `text_column` holds the text and the other columns
            become metadata.
        language: Source-language code, for models that need one (NLLB-CLIP: e.g. `fra_Latn`).
        model_key, settings, progress, rebuild, exact_threshold, batch_size: As for folders.

    Returns:
        The BuildReport.

    Raises:
        InvalidInputError: missing file, unknown type or column, no non-empty text.
        IndexMismatchError, IndexWriteError, UnknownModelError, ModelLoadError: as for folders.
    """
    source = TextFileSource(path, text_column=text_column)
    return build_index(
        name, source, model_key=model_key, settings=settings, progress=progress, rebuild=rebuild,
        exact_threshold=exact_threshold, batch_size=batch_size, language=language,
    )  # fmt: skip


def build_text_index_from_dataset(
    name: str,
    dataset: Any,
    *,
    text_column: str,
    split: str = "train",
    config: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    limit: int | None = None,
    language: str | None = None,
    model_key: str = DEFAULT_MODEL_KEY,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    exact_threshold: int = EXACT_THRESHOLD,
    batch_size: int | None = None,
) -> BuildReport:
    """Build or update the text index `name` from one column of a Hugging Face dataset.

    Args: as `build_image_index_from_dataset`, with `text_column` the column of texts and
    `language` as in `build_text_index_from_file`.

    Returns:
        The BuildReport.

    Raises:
        As `build_image_index_from_dataset`.
    """
    source = DatasetSource(
        dataset, kind="text", column=text_column, split=split, config=config,
        metadata_columns=metadata_columns, limit=limit,
    )  # fmt: skip
    return build_index(
        name, source, model_key=model_key, settings=settings, progress=progress, rebuild=rebuild,
        exact_threshold=exact_threshold, batch_size=batch_size, language=language,
    )  # fmt: skip


def build_index(
    name: str,
    source: Source,
    *,
    model_key: str = DEFAULT_MODEL_KEY,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    exact_threshold: int = EXACT_THRESHOLD,
    batch_size: int | None = None,
    thumbnail_size: int = THUMBNAIL_SIZE,
    language: str | None = None,
    decode_workers: int | None = None,
    image_runtime: str = "torch",
) -> BuildReport:
    """Build or update index `name` from any `Source` (the four functions above call this).

    `progress(done, total)` counts, for sources that can be listed cheaply (folders, files), the items
    embedded or skipped so far out of those that need embedding (items already in the index or in
    the finished batches of an interrupted build are not counted); for datasets, the rows read so far
    out of the rows expected (total 0 when unknown). It is called once before the first batch.

    Returns, Raises: as `build_image_index_from_folder`.
    """
    settings = settings or get_settings()
    folder = index_path(name, settings)
    started = time.perf_counter()
    if image_runtime not in IMAGE_RUNTIMES:
        raise InvalidInputError(
            f"image_runtime must be one of {', '.join(IMAGE_RUNTIMES)}, not {image_runtime!r}."
        )
    encoder = get_encoder(model_key, settings)
    with build_lock(folder):
        notes: list[str] = []
        existing = None if rebuild else _Existing.read(folder, source, encoder, language, notes)
        with writing(folder):
            partial = PartialBuild(folder / PARTIAL, job_of(source, encoder, language))
        run = _Run(folder, source, encoder, partial, existing, settings, batch_size, language, thumbnail_size)
        run.workers = resolve_workers("auto" if decode_workers is None else decode_workers, encoder.device)
        run.int8_pending = _wants_int8(image_runtime, source, encoder)
        run.execute(progress)
        report = run.commit(name, exact_threshold, started, notes + run.notes)
    log.info(
        "Built index %s: %d items, %d embedded, %.1f s", name, report.count, report.embedded, report.seconds
    )
    return report


# --------------------------------------------------------------------------------------------------
# The index being updated


class _Existing:
    """The current version of an index, when a build updates it."""

    def __init__(self, manifest: Manifest, rows: list[dict[str, Any]], built: BuiltIndex) -> None:
        self.manifest = manifest
        self.rows = rows
        self.built = built
        self.row_of = {row["_key"]: n for n, row in enumerate(rows)}

    @property
    def vectors(self) -> np.ndarray:
        return faiss_index.vectors_of(self.built.index)

    @classmethod
    def read(
        cls, folder: Path, source: Source, encoder: Encoder, language: str | None, notes: list[str]
    ) -> _Existing | None:
        """The index to update, or None for a first build. A damaged index is rebuilt (with a note).

        Raises:
            IndexMismatchError: built with another model, dimension or language.
            InvalidInputError: built from another source or of another kind.
        """
        if not (folder / MANIFEST).exists():
            return None
        try:
            manifest = read_manifest(folder)
        except IndexLoadError as error:
            notes.append(f"The existing index could not be read ({error}); it was rebuilt from scratch.")
            return None
        _check_same_model(folder.name, manifest, encoder, language)
        if manifest.kind != source.kind or identity_of(manifest.source) != source.identity():
            raise InvalidInputError(
                f"Index '{folder.name}' holds {manifest.kind}s from {_describe_source(manifest.source)}; "
                f"this build reads {source.kind}s from {_describe_source(source.describe())}. Choose another "
                "index name, or add --rebuild (rebuild=True) to replace it."
            )
        try:
            verify_files(folder, manifest)
            index = faiss_index.read_index(folder / manifest.data_dir / INDEX_FILE, mmap=False)
            text = (folder / manifest.data_dir / METADATA_FILE).read_text(encoding="utf-8")
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            if len(rows) != manifest.count or index.ntotal != manifest.count or index.d != manifest.dim:
                raise IndexLoadError("its row counts or dimension disagree with the manifest")
        except (IndexLoadError, OSError, ValueError, RuntimeError) as error:
            notes.append(f"The existing index was damaged ({error}); it was rebuilt from scratch.")
            log.warning("Index %s is damaged (%s); rebuilding it from scratch", folder.name, error)
            return None
        return cls(manifest, rows, BuiltIndex(index, manifest.index_type, manifest.index_params))


def _check_same_model(name: str, manifest: Manifest, encoder: Encoder, language: str | None) -> None:
    if (manifest.model_key, manifest.model_id, manifest.dim) != (encoder.key, encoder.model_id, encoder.dim):
        raise IndexMismatchError(
            f"Index '{name}' was built with model '{manifest.model_key}' ({manifest.model_id}, "
            f"{manifest.dim}-d); this build uses '{encoder.key}' ({encoder.model_id}, {encoder.dim}-d). "
            "Choose another index name, or add --rebuild (rebuild=True) to replace it."
        )
    if manifest.kind == "text" and manifest.language != language:
        raise IndexMismatchError(
            f"Index '{name}' embedded its texts with language {manifest.language!r}; this build asks for "
            f"{language!r}. Use the same --language, or add --rebuild to replace it."
        )


def _describe_source(source: dict[str, Any]) -> str:
    if source.get("type") == "folder":
        return f"folder {source.get('path')}"
    if source.get("type") == "file":
        return f"file {source.get('path')}"
    column = source.get("image_column") or source.get("text_column")
    return f"dataset '{source.get('name')}' (split {source.get('split')}, column {column})"


# --------------------------------------------------------------------------------------------------
# One run


@dataclass
class _Work:
    """One item as the reader thread hands it over: what to do with it, and its loaded payload."""

    action: str  # "keep" | "resume" | "embed" | "skip"
    item: Item
    payload: Image.Image | str | bytes | dict[str, Any] | None = None
    derived: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


class _Run:
    def __init__(
        self,
        folder: Path,
        source: Source,
        encoder: Encoder,
        partial: PartialBuild,
        existing: _Existing | None,
        settings: Settings,
        batch_size: int | None,
        language: str | None,
        thumbnail_size: int,
    ) -> None:
        self.folder = folder
        self.source = source
        self.encoder = encoder
        self.partial = partial
        self.existing = existing
        self.batch_size = max(1, batch_size or settings.batch_size)
        self.language = language
        self.thumbnail_size = thumbnail_size
        self.seen: dict[str, Item] = {}  # every item of the source (payloads dropped), in order
        self.kept: dict[str, int] = {}  # key -> row in the existing index
        self.new_keys: list[str] = []
        self.skipped: list[SkippedItem] = []
        self.resumed = 0
        self.embedded = 0
        self.embed_seconds = 0.0
        self.workers = 0  # decode worker processes (see `core.index.loader`)
        self.int8_pending = False  # check the int8 image tower on the next batch
        self.int8: Any = None  # the int8 image tower, once a batch agreed with fp32
        self.notes: list[str] = []

    # Reader thread ------------------------------------------------------------------------------

    def _classify(self, item: Item) -> str:
        if self.existing is not None:
            row = self.existing.row_of.get(item.key)
            if row is not None and self.existing.rows[row].get("_signature") == item.signature:
                return "keep"
        return "resume" if self.partial.has(item) else "embed"

    def _load_text(self, item: Item) -> _Work:
        try:
            return _Work("embed", item, item.load())
        except (InvalidInputError, OSError) as error:
            return _Work("skip", item, reason=str(error))

    def _loaded(self, work: _Work, loaded: LoadedImage | str) -> _Work:
        """Turn what the image loader gave into work for the model, writing the thumbnail."""
        if isinstance(loaded, str):
            return _Work("skip", work.item, reason=loaded)
        with writing(self.folder):
            relative = write_thumbnail(self.folder, loaded.thumbnail)
        derived = {"_thumbnail": relative, "width": loaded.width, "height": loaded.height}
        payload = loaded.pixels if loaded.pixels is not None else loaded.image
        return _Work("embed", work.item, payload, derived)

    def _chunks(self, items: Iterator[Item]) -> Iterator[list[_Work]]:
        """Group work so that each chunk holds at most one batch of items to embed."""
        if self.source.kind != "image":
            yield from self._group(
                self._load_text(item) if action == "embed" else _Work(action, item)
                for item, action in ((item, self._classify(item)) for item in items)
            )
            return
        gpu = gpu_decode_available(self.encoder)
        # Beside a GPU, JPEGs are decoded there; the loader (CPU) makes the rest.
        with ImageLoader(self.encoder, thumbnail_size=self.thumbnail_size, workers=self.workers) as loader:
            works = self._image_works(items, loader, gpu)
            for chunk in self._group(works):
                yield self._gpu_decode(chunk) if gpu else chunk

    def _image_works(self, items: Iterator[Item], loader: ImageLoader, gpu: bool) -> Iterator[_Work]:
        """Classify items and load those to embed, in order, with the loader working ahead."""
        pending: deque[tuple[_Work, Future | None]] = deque()
        ahead = max(1, 4 * self.workers)
        for item in items:
            action = self._classify(item)
            work = _Work(action, item)
            future = None
            if action == "embed":
                jpeg = encoded_jpeg(item.load) if gpu else None
                if jpeg is not None:
                    work.payload = jpeg  # decoded on the GPU, one chunk at a time
                else:
                    future = loader.submit(item.load)
            pending.append((work, future))
            while len(pending) > ahead or (pending and pending[0][1] is None):
                yield self._resolved(*pending.popleft())
        while pending:
            yield self._resolved(*pending.popleft())

    def _resolved(self, work: _Work, future: Future | None) -> _Work:
        return self._loaded(work, future.result()) if future is not None else work

    def _group(self, works: Iterable[_Work]) -> Iterator[list[_Work]]:
        chunk: list[_Work] = []
        to_embed = 0
        for work in works:
            chunk.append(work)
            to_embed += work.action == "embed"
            if to_embed >= self.batch_size or len(chunk) >= MAX_CHUNK:
                yield chunk
                chunk, to_embed = [], 0
        if chunk:
            yield chunk

    def _gpu_decode(self, chunk: list[_Work]) -> list[_Work]:
        """Decode the chunk's JPEG files on the GPU in one call; a file it cannot decode goes to PIL."""
        jpegs = [n for n, work in enumerate(chunk) if isinstance(work.payload, bytes)]
        if not jpegs:
            return chunk
        try:
            pixels, thumbnails, sizes = decode_jpegs_to_pixels(
                [chunk[n].payload for n in jpegs], self.encoder, self.thumbnail_size
            )
        except RuntimeError as error:  # one bad file fails the batch: decode them one by one
            log.warning("GPU JPEG decode failed (%s); decoding this batch on the CPU", error)
            with ImageLoader(self.encoder, thumbnail_size=self.thumbnail_size) as loader:
                for n in jpegs:
                    chunk[n] = self._loaded(chunk[n], loader.submit(chunk[n].item.load).result())
            return chunk
        for row, n in enumerate(jpegs):
            width, height = sizes[row]
            single = {key: value[row : row + 1] for key, value in pixels.items()}
            chunk[n] = self._loaded(chunk[n], LoadedImage(single, None, thumbnails[row], width, height))
        return chunk

    # Main thread --------------------------------------------------------------------------------

    def execute(self, progress: ProgressCallback | None) -> None:
        """Embed every item the index lacks, one batch at a time, reporting progress after each."""
        if self.source.listable:  # count exactly what needs the model
            items: list[Item] | Iterator[Item] = list(self.source.items())
            total = sum(self._classify(item) == "embed" for item in items)
        else:  # count rows as they stream by
            items = self.source.items()
            total = self.source.expected_count() or 0
        done = 0
        if progress is not None:
            progress(done, total)
        for chunk in _in_background(lambda: self._chunks(iter(items))):
            self._handle(chunk)
            if self.source.listable:
                done += sum(work.action in ("embed", "skip") for work in chunk)
            else:
                done += len(chunk)
            if progress is not None:
                progress(done, max(total, done) if total else 0)

    def _handle(self, chunk: list[_Work]) -> None:
        batch: list[_Work] = []
        for work in chunk:
            item = work.item
            # Keep what the commit needs, not the payload (a dataset row's image bytes).
            self.seen[item.key] = Item(item.key, item.signature, item.label, item.metadata, _unloaded)
            if work.action == "keep":
                self.kept[work.item.key] = self.existing.row_of[work.item.key]  # type: ignore[union-attr]
            elif work.action == "resume":
                self.resumed += 1
                self.new_keys.append(work.item.key)
            elif work.action == "skip":
                self.skipped.append(SkippedItem(work.item.label, work.reason))
            else:
                batch.append(work)
        if batch:
            self._embed(batch)

    def _embed(self, batch: list[_Work]) -> None:
        started = time.perf_counter()
        vectors, failed = self._embed_payloads([w.payload for w in batch])
        self.embed_seconds += time.perf_counter() - started
        done = [w for n, w in enumerate(batch) if n not in failed]
        for n, reason in failed.items():
            self.skipped.append(SkippedItem(batch[n].item.label, reason))
        if not done:
            return
        with writing(self.folder):
            self.partial.add([w.item for w in done], [w.derived for w in done], normalize(vectors))
        self.new_keys += [w.item.key for w in done]
        self.embedded += len(done)

    def _embed_payloads(self, payloads: list[Any]) -> tuple[np.ndarray, dict[int, str]]:
        """Embed a batch; if the model fails on it, embed one by one and skip the items that fail."""
        try:
            return self._embed_many(payloads), {}
        except Exception as error:  # a model error on one odd input must not stop the build
            if len(payloads) == 1:
                return np.zeros((0, self.encoder.dim), np.float32), {0: _model_failure(error)}
            log.warning("Batch failed (%s); embedding its items one by one", error)
        rows, failed = [], {}
        first_error: Exception | None = None
        for n, payload in enumerate(payloads):
            try:
                rows.append(self._embed_many([payload]))
            except Exception as error:
                first_error = first_error or error
                failed[n] = _model_failure(error)
        if not rows and first_error is not None:
            raise first_error  # every item fails: the model, not the data, is at fault
        return np.concatenate(rows), failed

    def _embed_many(self, payloads: list[Any]) -> np.ndarray:
        if self.source.kind == "image":
            if isinstance(payloads[0], dict):  # preprocessed by the loader
                pixels = collate(payloads)
                if self.int8_pending:
                    self._try_int8(pixels)
                if self.int8 is not None:
                    return self.int8.embed(pixels)
                return self.encoder.fast_path.embed(pixels)  # type: ignore[union-attr]
            return self.encoder.embed_images(payloads, batch_size=len(payloads))
        return self.encoder.embed_texts(payloads, language=self.language, batch_size=len(payloads))

    def _try_int8(self, pixels: dict[str, Any]) -> None:
        """Check the int8 image tower against fp32 on this batch; use it from now on if it agrees."""
        from core.encoders import onnx_int8

        self.int8_pending = False
        tower = onnx_int8.int8_tower(self.encoder)
        cosine = tower.agreement(pixels)
        if cosine >= onnx_int8.MIN_COSINE:
            self.int8 = tower
            self.notes.append(
                f"Images embedded by the int8 ONNX Runtime tower (cosine to fp32 {cosine:.5f})."
            )
        else:
            self.notes.append(
                f"The int8 image tower agreed with fp32 only at cosine {cosine:.5f} < "
                f"{onnx_int8.MIN_COSINE} on the first batch: images were embedded with torch instead."
            )
        log.info(self.notes[-1])

    # Commit -------------------------------------------------------------------------------------

    def commit(self, name: str, exact_threshold: int, started: float, notes: list[str]) -> BuildReport:
        existing = self.existing
        kept_rows = sorted(self.kept.values())
        order_keys = [existing.rows[row]["_key"] for row in kept_rows] if existing else []
        order_keys += self.new_keys
        count = len(order_keys)
        if count == 0:
            raise InvalidInputError(_nothing_message(self.source, self.skipped))
        old_keys = set(existing.row_of) if existing else set()
        new_set = set(self.new_keys)
        updated = len(new_set & old_keys)
        removed = len(old_keys - set(order_keys))
        rows = []
        for key in order_keys:
            item = self.seen[key]
            if key in self.kept:
                old = existing.rows[self.kept[key]]  # type: ignore[union-attr]
                derived = {k: old[k] for k in ("_thumbnail", "width", "height") if k in old}
            else:
                derived = self.partial.entries[key].derived
            rows.append(_row(item, derived))

        if existing is not None and self._unchanged(rows, exact_threshold):
            # Nothing to write, but a build killed after its commit may have left the old version.
            thumbnails = {row["_thumbnail"] for row in rows if row.get("_thumbnail")}
            remove_stale(self.folder, existing.manifest.version, thumbnails)
            self.partial.remove()
            return self._report(name, existing.manifest, started, notes, removed=0, updated=0)

        parts = [existing.vectors[kept_rows]] if existing and kept_rows else []
        if self.new_keys:
            parts.append(self.partial.vectors(self.new_keys))
        vectors = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        appended = existing is not None and kept_rows == list(range(len(existing.rows)))
        built = faiss_index.build_index(vectors, exact_threshold, base=existing.built if appended else None)

        with writing(self.folder):
            manifest = self._write_version(
                name, rows, built, exact_threshold, existing, removed, updated, count
            )
            write_manifest(self.folder, manifest)
        thumbnails = {row["_thumbnail"] for row in rows if row.get("_thumbnail")}
        remove_stale(self.folder, manifest.version, thumbnails)
        self.partial.remove()
        return self._report(name, manifest, started, notes, removed=removed, updated=updated)

    def _unchanged(self, rows: list[dict[str, Any]], exact_threshold: int) -> bool:
        """Nothing to write: same rows (metadata included), source and index parameters."""
        existing = self.existing
        assert existing is not None
        manifest = existing.manifest
        return (
            rows == existing.rows
            and manifest.exact_threshold == exact_threshold
            and manifest.source == self.source.describe()
        )

    def _report(
        self, name: str, manifest: Manifest, started: float, notes: list[str], *, removed: int, updated: int
    ) -> BuildReport:
        old_keys = set(self.existing.row_of) if self.existing else set()
        return BuildReport(
            name=name,
            path=self.folder,
            kind=self.source.kind,
            model_key=self.encoder.key,
            model_id=self.encoder.model_id,
            count=manifest.count,
            added=len(set(self.new_keys) - old_keys),
            updated=updated,
            kept=len(self.kept),
            removed=removed,
            resumed=self.resumed,
            embedded=self.embedded,
            skipped=tuple(self.skipped),
            seconds=time.perf_counter() - started,
            embed_seconds=self.embed_seconds,
            size_bytes=size_on_disk(self.folder),
            index_type=manifest.index_type,
            index_params=manifest.index_params,
            notes=tuple(notes),
        )

    def _write_version(
        self,
        name: str,
        rows: list[dict[str, Any]],
        built: BuiltIndex,
        exact_threshold: int,
        existing: _Existing | None,
        removed: int,
        updated: int,
        count: int,
    ) -> Manifest:
        version = next_version(self.folder)
        data = self.folder / f"v{version}"
        data.mkdir()
        atomic_write(data / INDEX_FILE, lambda tmp: faiss_index.write_index(built.index, tmp))
        atomic_write(data / METADATA_FILE, lambda tmp: tmp.write_text(metadata_lines(rows), encoding="utf-8"))
        now = now_iso()
        thumbnails = [row["_thumbnail"].split("/")[-1] for row in rows if row.get("_thumbnail")]
        return Manifest(
            name=name,
            kind=self.source.kind,
            model_key=self.encoder.key,
            model_id=self.encoder.model_id,
            dim=self.encoder.dim,
            count=count,
            index_type=built.index_type,
            index_params=built.params,
            exact_threshold=exact_threshold,
            source=self.source.describe(),
            language=self.language,
            created=existing.manifest.created if existing else now,
            updated=now,
            version=version,
            files={f"v{version}/{f}": file_record(data / f) for f in (INDEX_FILE, METADATA_FILE)},
            thumbnails=thumbnails_record(thumbnails, self.folder) if self.source.kind == "image" else {},
            last_build={
                "added": len(set(self.new_keys) - set(existing.row_of if existing else ())),
                "updated": updated,
                "kept": len(self.kept),
                "removed": removed,
                "resumed": self.resumed,
                "embedded": self.embedded,
                "skipped": len(self.skipped),
                "skipped_items": [
                    {"item": s.item, "reason": s.reason} for s in self.skipped[:MANIFEST_SKIPPED_LIMIT]
                ],
            },
        )


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """The commit point of a build: until this rename, readers see the previous version."""
    atomic_write_text(folder / MANIFEST, manifest.to_json())


def _row(item: Item, derived: dict[str, Any]) -> dict[str, Any]:
    internal = {"_key": item.key, "_signature": item.signature, "_thumbnail": derived.get("_thumbnail")}
    public = {k: v for k, v in derived.items() if not k.startswith("_")}
    return {**internal, **item.metadata, **public}


def _unloaded() -> Image.Image | str:
    raise RuntimeError("payload already released")


def _model_failure(error: Exception) -> str:
    return f"the model could not embed it ({type(error).__name__}: {' '.join(str(error).split())[:200]})"


def _nothing_message(source: Source, skipped: list[SkippedItem]) -> str:
    where = _describe_source(source.describe())
    if skipped:
        first = "; ".join(f"{s.item}: {s.reason}" for s in skipped[:3])
        return f"Nothing could be indexed from {where}: all {len(skipped)} items were skipped ({first})."
    if source.kind == "image":
        return f"No images found in {where} (looked for .jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff)."
    return f"No texts found in {where}."


def _wants_int8(image_runtime: str, source: Source, encoder: Encoder) -> bool:
    """Whether to try the int8 tower.

    Raises:
        InvalidInputError: "onnx-int8" asked for where it cannot run.
    """
    if image_runtime != "onnx-int8" or source.kind != "image":
        return False
    from core.encoders import onnx_int8

    onnx_int8.int8_tower(encoder)  # exported (once) before the build starts; raises if unsupported
    return True


def _in_background(make_chunks: Callable[[], Iterator[list[_Work]]], depth: int = 2) -> Iterator[list[_Work]]:
    """Run the reader (listing, decoding, thumbnails, dataset streaming) one step ahead of the model.

    Its exceptions re-raise here; when the consumer stops (error, KeyboardInterrupt), the reader stops.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in make_chunks():
                if not put(("chunk", chunk)):
                    return
            put(("end", None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(("error", error))

    reader = threading.Thread(target=read, name="index-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        reader.join(timeout=10)
