"""What an engine is given (`EngineJob`) and what it reports back (`EngineRun`).

An engine is made before the build takes its lock, with its own options (so what can fail at once
does: Ray missing, a runtime that cannot run this model), then runs one job: `engine.embed(job)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.encoders import Encoder
from core.index.build.options import ReadOptions
from core.index.build.plan import Plan
from core.index.format.store import IndexStore
from core.progress import ProgressCallback


@dataclass(frozen=True)
class EngineJob:
    """One build's embedding work, resolved once by the driver.

    Attributes:
        plan: What to do with each item; finished batches go to `plan.keep_batch`.
        store: The index folder (thumbnails are written through it).
        encoder: The model the index is made with.
        reading: The reader's options (batch size, thumbnails, JPEG decoding, decode workers).
        progress: Called with (done, total) after each batch, and once before the first.
    """

    plan: Plan
    store: IndexStore
    encoder: Encoder
    reading: ReadOptions
    progress: ProgressCallback | None = None

    def report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)


@dataclass
class EngineRun:
    """What an engine reports back: model time (summed over replicas), notes for the report, and the
    image runtime's choice for the manifest (`RuntimeChoice.record()`; None when none was made)."""

    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    runtime: dict[str, Any] | None = None
