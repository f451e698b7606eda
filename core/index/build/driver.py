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

from core.config import Settings, get_settings
from core.encoders import Encoder, get_encoder
from core.errors import InvalidInputError
from core.index import hints
from core.index.ann.build import build_ann
from core.index.build.engines.job import EngineJob, EngineRun
from core.index.build.engines.local import LocalEngine
from core.index.build.engines.ray_engine import RayEngine, driver_settings
from core.index.build.options import BuildOptions, BuildReport
from core.index.build.plan import Outcome, Plan, job_of
from core.index.format.compat import check_compatible
from core.index.format.fsio import size_on_disk
from core.index.format.layout import Kind
from core.index.format.loaded import LoadedIndex
from core.index.format.manifest import Manifest
from core.index.format.store import BuildRecord, IndexStore
from core.index.sources import Source, identity_of, source_label
from core.progress import ProgressCallback

__all__ = ["BuildOptions", "BuildReport", "build_index"]

log = logging.getLogger(__name__)

#: Skipped items listed in the manifest (all of them are in the BuildReport).
MANIFEST_SKIPPED_LIMIT = 200


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
    options.check()
    settings = settings or get_settings()
    started = time.perf_counter()
    store = IndexStore.named(name, settings)
    source = source.excluding(store.folder.parent)
    encoder, engine = _engine(options, settings, encoder, source.kind)
    with store.lock():
        existing = None if options.rebuild else _existing(store, source, encoder, options.language)
        plan = Plan(source, existing, store.partial(job_of(source, encoder, options.language)))
        run = engine.embed(EngineJob(plan, store, encoder, options.reading(settings), progress))
        manifest, outcome = _commit(store, plan, encoder, options, run)
    report = _report(store, plan, manifest, outcome, encoder, run, time.perf_counter() - started)
    log.info(
        "Built index %s: %d items, %d embedded, %.1f s", name, report.count, report.embedded, report.seconds
    )
    return report


def _engine(
    options: BuildOptions, settings: Settings, encoder: Encoder | None, kind: Kind
) -> tuple[Encoder, LocalEngine | RayEngine]:
    """(encoder, engine): the model the build records (loaded here unless given) and the engine that
    embeds the plan's items, made before the build takes its lock (so Ray missing, a bad address or an
    image runtime that cannot run this model fail at once). Ray's actors embed with a given encoder,
    else they load `options.model_key` themselves; the build's own copy stays off their GPUs."""
    if options.engine == "ray":
        ray = RayEngine(
            options.ray(), options.embedding(settings), options.model_key, settings, shipped=encoder
        )
        return encoder or get_encoder(options.model_key, driver_settings(settings), bulk=True), ray
    loaded = encoder or get_encoder(options.model_key, settings, bulk=True)  # bf16 where native
    return loaded, LocalEngine(loaded, kind, options.embedding(settings))


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


def _commit(
    store: IndexStore, plan: Plan, encoder: Encoder, options: BuildOptions, run: EngineRun
) -> tuple[Manifest, Outcome]:
    """Write the new version (or keep the existing one when nothing changed); return its manifest."""
    outcome = plan.outcome()
    if not outcome.rows:
        raise InvalidInputError(_nothing_message(plan))
    existing, source = plan.existing, plan.source
    asked = (outcome.rows, options.exact_threshold, options.memory_budget, source.description())
    old = existing.manifest if existing is not None else None
    if old is not None and asked == (existing.rows, old.exact_threshold, old.memory_budget, old.source):
        # Nothing to write, but a build killed after its commit may have left the old version.
        store.clean(existing.manifest.version, outcome.rows)
        return existing.manifest, Outcome(
            outcome.rows, outcome.kept_rows, outcome.new_keys, outcome.added, 0, 0
        )
    base = existing.built if existing is not None and plan.appends(outcome) else None
    built = build_ann(
        plan.vectors(outcome), options.exact_threshold, base=base, memory_budget=options.memory_budget
    )
    record = BuildRecord(
        kind=source.kind, model_key=encoder.key, model_id=encoder.model_id, dim=encoder.dim,
        exact_threshold=options.exact_threshold, source=source.description(), language=options.language,
        created=existing.manifest.created if existing is not None else None,
        memory_budget=options.memory_budget,
        last_build={
            "added": outcome.added, "updated": outcome.updated, "kept": len(plan.kept),
            "removed": outcome.removed, "resumed": plan.resumed, "embedded": plan.embedded,
            "skipped": len(plan.skipped),
            "skipped_items": [
                {"item": s.item, "reason": s.reason} for s in plan.skipped[:MANIFEST_SKIPPED_LIMIT]
            ],
            **({"image_runtime": run.runtime} if run.runtime else {}),
        },
    )  # fmt: skip
    return store.commit(outcome.rows, built, record), outcome


def _report(
    store: IndexStore,
    plan: Plan,
    manifest: Manifest,
    outcome: Outcome,
    encoder: Encoder,
    run: EngineRun,
    seconds: float,
) -> BuildReport:
    return BuildReport(
        name=store.name, path=store.folder, kind=plan.source.kind, model_key=encoder.key,
        model_id=encoder.model_id, count=manifest.count, added=outcome.added, updated=outcome.updated,
        kept=len(plan.kept), removed=outcome.removed, resumed=plan.resumed, embedded=plan.embedded,
        skipped=tuple(plan.skipped), seconds=seconds, embed_seconds=run.seconds,
        size_bytes=size_on_disk(store.folder), index_type=manifest.index_type,
        index_params=manifest.index_params, notes=(*run.notes, *_index_notes(manifest)),
    )  # fmt: skip


def _index_notes(manifest: Manifest) -> list[str]:
    """What the user should know about the index written (a compressed one below its recall target)."""
    warning = manifest.index_params.get("below_target")
    return [warning] if warning else []


def _nothing_message(plan: Plan) -> str:
    where = source_label(plan.source.description())
    skipped = plan.skipped
    if skipped:
        first = "; ".join(f"{s.item}: {s.reason}" for s in skipped[:3])
        return f"Nothing could be indexed from {where}: all {len(skipped)} items were skipped ({first})."
    if plan.source.kind == Kind.IMAGE:
        return f"No images found in {where} (looked for .jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff)."
    return f"No texts found in {where}."
