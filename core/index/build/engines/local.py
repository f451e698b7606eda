"""The local engine: the build's own process reads one chunk ahead of the model and embeds batch by batch."""

from __future__ import annotations

from core.encoders import Encoder
from core.index.build.embedder import Embedder
from core.index.build.engines.job import EngineJob, EngineRun
from core.index.build.options import EmbedOptions
from core.index.build.plan import Action, Plan
from core.index.build.reader import Reader, Work, prefetch
from core.index.format.layout import Kind


class LocalEngine:
    """Embeds in this process with one `Embedder` (made here: an int8 runtime that cannot run this
    model fails before the build starts)."""

    def __init__(self, encoder: Encoder, kind: Kind, embedding: EmbedOptions) -> None:
        self.embedder = Embedder(encoder, kind, embedding)

    def embed(self, job: EngineJob) -> EngineRun:
        """Embed every item the index lacks, one batch at a time, reporting progress after each."""
        plan, embedder = job.plan, self.embedder
        reader = Reader(plan, job.encoder, job.store, job.reading)
        items, total = plan.items()
        embedder.images = total or None  # a small build does not export an ONNX tower
        done = 0
        job.report(done, total)
        for chunk in prefetch(lambda: reader.chunks(items)):
            batch = [work for work in chunk if work.action == Action.EMBED]
            for work in chunk:
                plan.saw(work.item, work.action, work.reason)
            if batch:
                _embed(plan, embedder, batch)
            done += plan.progress(work.action for work in chunk)
            job.report(done, max(total, done) if total else 0)
        choice = embedder.choice.record() if embedder.choice is not None else None
        return EngineRun(embedder.seconds, list(embedder.notes), choice)


def _embed(plan: Plan, embedder: Embedder, batch: list[Work]) -> None:
    vectors, failed = embedder.embed([work.payload for work in batch])
    for n, reason in failed.items():
        plan.saw(batch[n].item, Action.SKIP, reason)
    done = [work for n, work in enumerate(batch) if n not in failed]
    plan.keep_batch([w.item for w in done], [w.derived for w in done], vectors)
