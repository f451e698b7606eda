"""Building and updating indexes: `build_index(name, source, options)`.

A build holds the index's lock, plans what to do with each item of the source (keep, resume, embed),
reads the items to embed one step ahead of the model, embeds them in batches, keeps every finished
batch in `<index>/.partial/`, and finally commits a new version through the store. An interrupted
build never damages the index it was updating, and re-running it embeds only the batches that were
not finished.

Re-running a build over the same source adds new items, re-embeds changed ones (new file size or
time, new image bytes, new text) and drops items that are gone. Unreadable images are skipped and
listed in the report; they never stop a build. An index that cannot be read (damaged files, an
unreadable manifest) is never updated: the build stops with what is wrong and the command that
rebuilds it (`rebuild=True`, `--rebuild`), exactly as a search of it does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings, get_settings
from core.encoders import Encoder, get_encoder
from core.errors import InvalidInputError
from core.index import hints
from core.index.ann import EXACT_THRESHOLD, build_ann
from core.index.compat import check_compatible
from core.index.decode import resolve_workers
from core.index.embedder import Embedder
from core.index.fsio import size_on_disk, writing
from core.index.layout import IndexType, Kind
from core.index.loaded import LoadedIndex
from core.index.manifest import Manifest
from core.index.partial import job_of
from core.index.plan import Action, Outcome, Plan, SkippedItem
from core.index.reader import Reader, Work, prefetch
from core.index.sources import Source, identity_of, source_label
from core.index.store import BuildRecord, IndexStore
from core.index.thumbnails import THUMBNAIL_SIZE
from core.progress import ProgressCallback
from core.registry import DEFAULT_MODEL_KEY

log = logging.getLogger(__name__)

#: Skipped items listed in the manifest (all of them are in the BuildReport).
MANIFEST_SKIPPED_LIMIT = 200


@dataclass(frozen=True)
class BuildOptions:
    """How to build an index; the defaults suit most builds.

    Attributes:
        model_key: Registry key of the model (see `core.registry.MODELS`).
        rebuild: Replace an existing index instead of updating it (needed to change model or source).
        exact_threshold: Largest index searched exactly; above it HNSW (and IVF above 200,000 rows).
        batch_size: Items per model call (default: the settings' batch size).
        thumbnail_size: Longer side of the display thumbnails of image indexes.
        language: Source-language code of texts, for models that need one (NLLB-CLIP: `fra_Latn`).
        decode_workers: Processes that decode and preprocess images while the model runs; "auto":
            none on the CPU (the model uses every core), one per spare core (up to 8) beside a GPU.
        image_runtime: "torch", or "onnx-int8" to embed images with an int8 copy of the image tower
            on ONNX Runtime (CPU, fixed-size transformers models; about 1.4x faster than bf16 on CPUs
            without AMX), used only if the first batch agrees with fp32 at cosine >= 0.999.
        jpeg_decode: "auto" (JPEGs decoded on the GPU beside one), "pil" or "torchvision" (the GPU
            path's batched decode on the encoder's device, whatever it is).
    """

    model_key: str = DEFAULT_MODEL_KEY
    rebuild: bool = False
    exact_threshold: int = EXACT_THRESHOLD
    batch_size: int | None = None
    thumbnail_size: int = THUMBNAIL_SIZE
    language: str | None = None
    decode_workers: int | str | None = "auto"
    image_runtime: str = "torch"
    jpeg_decode: str = "auto"


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
        notes: Anything else the user should know (e.g. which image runtime embedded the images).
    """

    name: str
    path: Path
    kind: Kind
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
    index_type: IndexType
    index_params: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def items_per_second(self) -> float:
        """Embedding speed of this run (items embedded per second of model time)."""
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


def build_index(
    name: str,
    source: Source,
    options: BuildOptions | None = None,
    *,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    encoder: Encoder | None = None,
) -> BuildReport:
    """Build or update index `name` (folder `<index_dir>/<name>/`) from `source`.

    Args:
        name: Index name.
        source: A `FolderSource`, `DatasetSource`, `TextFileSource` or any other `Source`.
        options: How to build it (model, batch size, thumbnails...); default `BuildOptions()`.
        settings: Index folder, batch size, device, model overrides; default: the process settings.
        progress: Called with (done, total): for sources that list cheaply (folders, files), items
            embedded or skipped out of those that need embedding; for datasets, rows read out of rows
            expected (total 0 when unknown). Called once before the first batch.
        encoder: The model to embed with, instead of `get_encoder(options.model_key, settings,
            bulk=True)`.

    Returns:
        The BuildReport.

    Raises:
        InvalidInputError: bad name, options or source, another source under this name, or no
            usable item in the source.
        IndexLoadError: the existing index is damaged (the message says how to rebuild it).
        IndexMismatchError: the index exists with another model or language (use `rebuild`).
        IndexWriteError: the index folder cannot be written (disk full, permissions) or is being built.
        UnknownModelError, ModelLoadError: the model cannot be loaded.
    """
    options = options or BuildOptions()
    settings = settings or get_settings()
    started = time.perf_counter()
    store = IndexStore.named(name, settings)
    source = source.excluding(store.folder.parent)
    encoder = encoder or get_encoder(options.model_key, settings, bulk=True)  # bf16 where native
    embedder = Embedder(encoder, source.kind, options.language, options.image_runtime)
    with store.lock():
        existing = None if options.rebuild else _existing(store, source, encoder, options.language)
        plan = Plan(source, existing, store.partial(job_of(source, encoder, options.language)))
        reader = Reader(
            plan, encoder, store, batch_size=max(1, options.batch_size or settings.batch_size),
            thumbnail_size=options.thumbnail_size, jpeg_decode=options.jpeg_decode,
            workers=resolve_workers(_or_auto(options.decode_workers), encoder.device),
        )  # fmt: skip
        _embed_all(plan, reader, embedder, progress)
        manifest, outcome = _commit(store, plan, encoder, options)
    report = _report(store, plan, manifest, outcome, encoder, embedder, time.perf_counter() - started)
    log.info(
        "Built index %s: %d items, %d embedded, %.1f s", name, report.count, report.embedded, report.seconds
    )
    return report


def _existing(
    store: IndexStore, source: Source, encoder: Encoder, language: str | None
) -> LoadedIndex | None:
    """The index to update, or None for a first build.

    Raises:
        IndexLoadError: the index is damaged.
        IndexMismatchError: built with another model, dimension or language.
        InvalidInputError: built from another source or of another kind.
    """
    if not store.exists():
        return None
    existing = store.read()
    manifest = existing.manifest
    check_compatible(manifest, encoder.key, encoder.model_id, encoder.dim, language)
    if manifest.kind != source.kind or identity_of(manifest.source) != source.identity():
        raise InvalidInputError(
            f"Index '{store.name}' holds {manifest.kind}s from {source_label(manifest.source)}; this build "
            f"reads {source.kind}s from {source_label(source.description())}. {hints.other_name_hint()}"
        )
    return existing


def _embed_all(plan: Plan, reader: Reader, embedder: Embedder, progress: ProgressCallback | None) -> None:
    """Embed every item the index lacks, one batch at a time, reporting progress after each."""
    items, total = plan.items()
    done = 0
    if progress is not None:
        progress(done, total)
    for chunk in prefetch(lambda: reader.chunks(items)):
        batch = [work for work in chunk if work.action == Action.EMBED]
        for work in chunk:
            plan.saw(work.item, work.action, work.reason)
        if batch:
            _embed(plan, embedder, batch, reader.store)
        done += plan.progress(work.action for work in chunk)
        if progress is not None:
            progress(done, max(total, done) if total else 0)


def _embed(plan: Plan, embedder: Embedder, batch: list[Work], store: IndexStore) -> None:
    vectors, failed = embedder.embed([work.payload for work in batch])
    for n, reason in failed.items():
        plan.saw(batch[n].item, Action.SKIP, reason)
    done = [work for n, work in enumerate(batch) if n not in failed]
    if done:
        with writing(store.folder):
            plan.partial.add([w.item for w in done], [w.derived for w in done], vectors)
        plan.did_embed([w.item.key for w in done])


def _commit(
    store: IndexStore, plan: Plan, encoder: Encoder, options: BuildOptions
) -> tuple[Manifest, Outcome]:
    """Write the new version (or keep the existing one when nothing changed); return its manifest."""
    outcome = plan.outcome()
    if not outcome.rows:
        raise InvalidInputError(_nothing_message(plan))
    existing, source = plan.existing, plan.source
    if existing is not None and (outcome.rows, options.exact_threshold, source.description()) == (
        existing.rows, existing.manifest.exact_threshold, existing.manifest.source
    ):  # fmt: skip
        # Nothing to write, but a build killed after its commit may have left the old version.
        store.clean(existing.manifest.version, outcome.rows)
        return existing.manifest, Outcome(
            outcome.rows, outcome.kept_rows, outcome.new_keys, outcome.added, 0, 0
        )
    base = existing.built if existing is not None and plan.appends(outcome) else None
    built = build_ann(plan.vectors(outcome), options.exact_threshold, base=base)
    record = BuildRecord(
        kind=source.kind, model_key=encoder.key, model_id=encoder.model_id, dim=encoder.dim,
        exact_threshold=options.exact_threshold, source=source.description(), language=options.language,
        created=existing.manifest.created if existing is not None else None,
        last_build={
            "added": outcome.added, "updated": outcome.updated, "kept": len(plan.kept),
            "removed": outcome.removed, "resumed": plan.resumed, "embedded": plan.embedded,
            "skipped": len(plan.skipped),
            "skipped_items": [
                {"item": s.item, "reason": s.reason} for s in plan.skipped[:MANIFEST_SKIPPED_LIMIT]
            ],
        },
    )  # fmt: skip
    return store.commit(outcome.rows, built, record), outcome


def _report(
    store: IndexStore,
    plan: Plan,
    manifest: Manifest,
    outcome: Outcome,
    encoder: Encoder,
    embedder: Embedder,
    seconds: float,
) -> BuildReport:
    return BuildReport(
        name=store.name, path=store.folder, kind=plan.source.kind, model_key=encoder.key,
        model_id=encoder.model_id, count=manifest.count, added=outcome.added, updated=outcome.updated,
        kept=len(plan.kept), removed=outcome.removed, resumed=plan.resumed, embedded=plan.embedded,
        skipped=tuple(plan.skipped), seconds=seconds, embed_seconds=embedder.seconds,
        size_bytes=size_on_disk(store.folder), index_type=manifest.index_type,
        index_params=manifest.index_params, notes=tuple(embedder.notes),
    )  # fmt: skip


def _or_auto(workers: int | str | None) -> int | str:
    return "auto" if workers is None else workers


def _nothing_message(plan: Plan) -> str:
    where = source_label(plan.source.description())
    skipped = plan.skipped
    if skipped:
        first = "; ".join(f"{s.item}: {s.reason}" for s in skipped[:3])
        return f"Nothing could be indexed from {where}: all {len(skipped)} items were skipped ({first})."
    if plan.source.kind == Kind.IMAGE:
        return f"No images found in {where} (looked for .jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff)."
    return f"No texts found in {where}."
