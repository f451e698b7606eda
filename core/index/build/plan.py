"""What a build does with each item: keep it, take it from an interrupted build, embed it, or skip it.

The plan crosses the source with the index being updated and the finished batches of `.partial/`:
an item whose key and signature the index already holds is kept (its vector and thumbnail reused), one
a finished batch holds is resumed, and any other is embedded. As the build goes, the plan keeps the
ledger (what was kept, embedded, skipped) from which `outcome()` assembles the rows of the new version:
the kept rows in their old order, then the new rows in source order (whatever order an engine
finished them in). Items the source no longer has are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from core.encoders import Encoder
from core.index.format.fsio import writing
from core.index.format.layout import FORMAT_VERSION
from core.index.format.loaded import LoadedIndex
from core.index.format.partial import PartialBuild
from core.index.sources import Item, Source

#: Largest new version whose vectors are gathered in memory (float32 bytes); larger ones go to disk.
IN_MEMORY_VECTORS = 2**30
#: Rows copied at a time into the on-disk vectors, and its name in `.partial/`.
VECTOR_CHUNK = 65_536
OUTCOME_VECTORS = "vectors.npy"


def job_of(source: Source, encoder: Encoder, language: str | None) -> dict[str, Any]:
    """What the finished batches of `.partial/` must have been made with to be reused: the format,
    the model (key, checkpoint, dimension), the texts' language and the source."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": source.kind,
        "model_key": encoder.key,
        "model_id": encoder.model_id,
        "dim": encoder.dim,
        "language": language,
        "source": source.identity(),
    }


class Action(str, Enum):
    KEEP = "keep"
    RESUME = "resume"
    EMBED = "embed"
    SKIP = "skip"


@dataclass(frozen=True)
class SkippedItem:
    """An item left out of the index: `item` names it (relative path, "row 12"...), `reason` says why."""

    item: str
    reason: str


@dataclass
class Outcome:
    """The new version's rows, and how they came about.

    Attributes:
        rows: Metadata rows in index order (the index's own `_key`, `_signature`, `_thumbnail` first).
        kept_rows: Rows of the previous version that are kept, in order.
        new_keys: Keys of the rows after the kept ones, in order (embedded or resumed).
        added, updated, removed: New keys; keys re-embedded because they changed; keys gone.
    """

    rows: list[dict[str, Any]]
    kept_rows: list[int]
    new_keys: list[str]
    added: int
    updated: int
    removed: int


@dataclass
class Plan:
    """The plan and ledger of one build of `source` over `existing` (None: a first build)."""

    source: Source
    existing: LoadedIndex | None
    partial: PartialBuild
    seen: dict[str, Item] = field(default_factory=dict)  # every item of the source, payload dropped
    kept: dict[str, int] = field(default_factory=dict)  # key -> row in the existing index
    new_keys: list[str] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    resumed: int = 0
    embedded: int = 0

    def action(self, item: Item) -> Action:
        if self.existing is not None:
            row = self.existing.row_of.get(item.key)
            if row is not None and self.existing.rows[row].get("_signature") == item.signature:
                return Action.KEEP
        return Action.RESUME if self.partial.has(item) else Action.EMBED

    def items(self) -> tuple[Iterable[Item], int]:
        """The source's items and the progress total: for sources that list cheaply, the items to
        embed (known before the first batch); for streamed ones, the rows expected (0: unknown)."""
        if self.source.listable:
            items = list(self.source.items())
            return items, sum(self.action(item) == Action.EMBED for item in items)
        return self.source.items(), self.source.expected_count() or 0

    def progress(self, actions: Iterable[Action]) -> int:
        """How far a chunk of this many items advances the progress count (see `items`)."""
        if self.source.listable:
            return sum(action in (Action.EMBED, Action.SKIP) for action in actions)
        return sum(1 for _ in actions)

    def saw(self, item: Item, action: Action, reason: str = "") -> None:
        """Record an item of the source: what was done with it, unless it is yet to be embedded."""
        self.seen[item.key] = item.without_payload()
        if action == Action.KEEP:
            self.kept[item.key] = self.existing.row_of[item.key]  # type: ignore[union-attr]
        elif action == Action.RESUME:
            self.resumed += 1
            self.new_keys.append(item.key)
        elif action == Action.SKIP:
            self.skipped.append(SkippedItem(item.label, reason))

    def keep_batch(
        self, items: Sequence[Item], derived: Sequence[dict[str, Any]], vectors: np.ndarray
    ) -> None:
        """Record a finished batch: its vectors and derived fields (thumbnail...) go to `.partial/`,
        where an interrupted build finds them again.

        Raises:
            IndexWriteError: the disk is full or the folder is not writable.
        """
        if not items:
            return
        with writing(self.partial.folder):
            self.partial.add(items, derived, vectors)
        self.new_keys += [item.key for item in items]
        self.embedded += len(items)

    def outcome(self) -> Outcome:
        existing = self.existing
        kept_rows = sorted(self.kept.values())
        order = [existing.rows[row]["_key"] for row in kept_rows] if existing else []
        position = {key: n for n, key in enumerate(self.seen)}
        self.new_keys.sort(key=position.__getitem__)
        order += self.new_keys
        old_keys = set(existing.row_of) if existing else set()
        return Outcome(
            rows=[self._row(key) for key in order],
            kept_rows=kept_rows,
            new_keys=list(self.new_keys),
            added=len(set(self.new_keys) - old_keys),
            updated=len(set(self.new_keys) & old_keys),
            removed=len(old_keys - set(order)),
        )

    def _row(self, key: str) -> dict[str, Any]:
        item = self.seen[key]
        if key in self.kept:
            old = self.existing.rows[self.kept[key]]  # type: ignore[union-attr]
            derived = {k: old[k] for k in ("_thumbnail", "width", "height") if k in old}
        else:
            derived = self.partial.entries[key].derived
        internal = {"_key": item.key, "_signature": item.signature, "_thumbnail": derived.get("_thumbnail")}
        public = {k: v for k, v in derived.items() if not k.startswith("_")}
        return {**internal, **item.metadata, **public}

    def vectors(self, outcome: Outcome) -> np.ndarray:
        """The vectors of `outcome.rows`: kept ones from the existing index, new ones from `.partial/`.
        Above `IN_MEMORY_VECTORS` bytes, a float32 file in `.partial/`, memory-mapped, filled a chunk
        at a time (a build of millions of rows never holds them all)."""
        count, dim = len(outcome.rows), self.partial.dim
        if count * dim * 4 > IN_MEMORY_VECTORS:
            return self._vectors_on_disk(outcome)
        parts = []
        if self.existing is not None and outcome.kept_rows:
            parts.append(self.existing.vectors()[outcome.kept_rows])
        if outcome.new_keys:
            parts.append(self.partial.vectors(outcome.new_keys))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _vectors_on_disk(self, outcome: Outcome) -> np.ndarray:
        count, dim = len(outcome.rows), self.partial.dim
        path = self.partial.folder / OUTCOME_VECTORS
        with writing(self.partial.folder):
            out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, dim))
            row = 0
            kept, new = outcome.kept_rows, outcome.new_keys
            for first in range(0, len(kept), VECTOR_CHUNK):
                part = self.existing.vectors()[kept[first : first + VECTOR_CHUNK]]  # type: ignore[union-attr]
                out[row : row + len(part)] = part
                row += len(part)
            for first in range(0, len(new), VECTOR_CHUNK):
                part = self.partial.vectors(new[first : first + VECTOR_CHUNK])
                out[row : row + len(part)] = part
                row += len(part)
            out.flush()
        return out

    def appends(self, outcome: Outcome) -> bool:
        """True when the new version is the existing one plus rows at the end (its ANN can grow)."""
        return self.existing is not None and outcome.kept_rows == list(range(len(self.existing.rows)))
