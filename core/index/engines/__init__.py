"""Engines: the ways a build embeds what its plan says to embed.

    local   this process: the prefetching reader and the embedder (`core.index.reader`, `embedder`)
    ray     a Ray cluster: Ray Data decodes and preprocesses on CPU workers, an actor pool holding the
            model embeds (`ray_engine` drives it from the build's process, `ray_stages` runs on workers)

Both take the build's `Plan` and hand every finished batch to `Plan.keep_batch`, which writes it into
`.partial/`; the build then commits what is there. So the index, its manifest and the resume rule
(an interrupted build re-embeds only unfinished batches) do not depend on the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EngineRun:
    """What an engine reports back: model time (summed over replicas) and notes for the report."""

    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
