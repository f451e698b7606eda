"""The work folder of a build, `<index>/.partial/`: finished batches kept until the build completes.

    .partial/job.json             what the batches were made with (model, checkpoint, source)
    .partial/batch-000000.npy     (n, D) float32 vectors of one batch (read with allow_pickle=False)
    .partial/batch-000000.json    their keys, signatures and thumbnails; written last: the batch is done

A build started again with the same job reuses every finished batch; another job discards them.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.index.format.fsio import atomic_write, atomic_write_text

log = logging.getLogger(__name__)


class Keyed(Protocol):
    """What a batch needs of an item (`core.index.sources.Item` has it): its key and signature."""

    @property
    def key(self) -> str: ...

    @property
    def signature(self) -> str: ...


@dataclass
class Entry:
    """A finished item: its signature, and where its vector and derived fields (thumbnail...) are."""

    signature: str
    batch: str
    row: int
    derived: dict[str, Any]


class PartialBuild:
    """`.partial/`: `job.json`, then `batch-NNNNNN.npy` + `batch-NNNNNN.json` per finished batch.

    The `.json` is written last and marks the batch finished. Batches made for another job (model,
    source) are discarded; any unreadable batch is ignored.
    """

    def __init__(self, folder: Path, job: dict[str, Any]) -> None:
        self.folder = folder
        self.entries: dict[str, Entry] = {}
        self.dim = int(job["dim"])
        self.next_batch = 0
        job_file = folder / "job.json"
        if folder.is_dir():
            try:
                same = json.loads(job_file.read_text(encoding="utf-8")) == job
            except (OSError, ValueError):
                same = False
            if same:
                self._load()
            else:
                log.info("Discarding finished batches of another build in %s", folder)
                shutil.rmtree(folder)
        if not folder.is_dir():
            folder.mkdir(parents=True)
            atomic_write_text(job_file, json.dumps(job, indent=2) + "\n")

    def _load(self) -> None:
        for record in sorted(self.folder.glob("batch-*.json")):
            try:
                batch = json.loads(record.read_text(encoding="utf-8"))
                vectors = np.load(record.with_suffix(".npy"), mmap_mode="r", allow_pickle=False)
                keys = batch["keys"]
                if vectors.shape != (len(keys), self.dim) or vectors.dtype != np.float32:
                    raise ValueError(f"shape {vectors.shape} {vectors.dtype}")
            except (OSError, ValueError, KeyError) as error:
                log.warning("Ignoring unreadable batch %s: %s", record.name, error)
                continue
            for row, (key, signature, derived) in enumerate(
                zip(keys, batch["signatures"], batch["derived"], strict=True)
            ):
                self.entries[key] = Entry(signature, record.stem, row, derived)
            self.next_batch = max(self.next_batch, int(record.stem.split("-")[1]) + 1)

    def has(self, item: Keyed) -> bool:
        entry = self.entries.get(item.key)
        return entry is not None and entry.signature == item.signature

    def add(self, items: Sequence[Keyed], derived: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        stem = f"batch-{self.next_batch:06d}"
        self.next_batch += 1
        atomic_write(self.folder / f"{stem}.npy", lambda tmp: _save_npy(tmp, vectors))
        record = {
            "keys": [item.key for item in items],
            "signatures": [item.signature for item in items],
            "derived": derived,
        }
        atomic_write_text(self.folder / f"{stem}.json", json.dumps(record, ensure_ascii=False) + "\n")
        for row, (item, extra) in enumerate(zip(items, derived, strict=True)):
            self.entries[item.key] = Entry(item.signature, stem, row, extra)

    def vectors(self, keys: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(keys), self.dim), np.float32)
        batches: dict[str, np.ndarray] = {}
        for n, key in enumerate(keys):
            entry = self.entries[key]
            if entry.batch not in batches:
                batches[entry.batch] = np.load(self.folder / f"{entry.batch}.npy", allow_pickle=False)
            out[n] = batches[entry.batch][entry.row]
        return out

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _save_npy(path: Path, vectors: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
