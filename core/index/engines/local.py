"""The local engine: the build's own process reads one chunk ahead of the model and embeds batch by batch."""

from __future__ import annotations

from core.config import Settings
from core.encoders import Encoder
from core.index.decode import resolve_workers
from core.index.embedder import Embedder
from core.index.engines import EngineRun
from core.index.options import BuildOptions
from core.index.plan import Action, Plan
from core.index.reader import Reader, Work, prefetch
from core.index.store import IndexStore
from core.progress import ProgressCallback


def embed_locally(
    plan: Plan,
    store: IndexStore,
    encoder: Encoder,
    embedder: Embedder,
    options: BuildOptions,
    settings: Settings,
    progress: ProgressCallback | None,
) -> EngineRun:
    """Embed every item the index lacks, one batch at a time, reporting progress after each."""
    workers = options.decode_workers
    reader = Reader(
        plan, encoder, store, batch_size=max(1, options.batch_size or settings.batch_size),
        thumbnail_size=options.thumbnail_size, jpeg_decode=options.jpeg_decode,
        workers=resolve_workers("auto" if workers is None else workers, encoder.device),
    )  # fmt: skip
    items, total = plan.items()
    done = 0
    if progress is not None:
        progress(done, total)
    for chunk in prefetch(lambda: reader.chunks(items)):
        batch = [work for work in chunk if work.action == Action.EMBED]
        for work in chunk:
            plan.saw(work.item, work.action, work.reason)
        if batch:
            _embed(plan, embedder, batch)
        done += plan.progress(work.action for work in chunk)
        if progress is not None:
            progress(done, max(total, done) if total else 0)
    return EngineRun(embedder.seconds, list(embedder.notes))


def _embed(plan: Plan, embedder: Embedder, batch: list[Work]) -> None:
    vectors, failed = embedder.embed([work.payload for work in batch])
    for n, reason in failed.items():
        plan.saw(batch[n].item, Action.SKIP, reason)
    done = [work for n, work in enumerate(batch) if n not in failed]
    plan.keep_batch([w.item for w in done], [w.derived for w in done], vectors)
