"""A version of an index as its reader (`IndexStore.read`) returns it: manifest, FAISS index and rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.index.ann import BuiltIndex, vectors_of
from core.index.format import thumbnails
from core.index.format.layout import INDEX_FILE, METADATA_FILE, THUMBNAILS, Kind
from core.index.format.manifest import Manifest


@dataclass(eq=False)
class LoadedIndex:
    """A version of an index in memory (or memory-mapped), checked against its manifest.

    `verified` says how its data files were checked: "full" (every byte's sha256), "sampled" (size
    and sampled blocks, for files above 512 MiB) or "" (not checked). `rows` is a list, or for
    metadata files above 64 MiB a `LazyRows` sequence that parses each row when it is read.
    """

    name: str
    path: Path
    manifest: Manifest
    faiss_index: Any
    rows: Sequence[dict[str, Any]]
    mmap: bool
    verified: str = ""
    rerank: np.ndarray | None = None  # a compressed index's float16 vectors, memory-mapped

    @property
    def kind(self) -> Kind:
        return self.manifest.kind

    @property
    def model_key(self) -> str:
        return self.manifest.model_key

    @property
    def dim(self) -> int:
        return self.manifest.dim

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def built(self) -> BuiltIndex:
        """The FAISS index with its type and parameters, as `core.index.ann` builds and searches them."""
        return BuiltIndex(
            self.faiss_index, self.manifest.index_type, self.manifest.index_params, rerank=self.rerank
        )

    @cached_property
    def row_of(self) -> dict[str, int]:
        """{item key: row}."""
        return {row["_key"]: n for n, row in enumerate(self.rows)}

    @cached_property
    def row_of_thumbnail(self) -> dict[str, int]:
        """{thumbnail file name: first row showing it} (identical images share one thumbnail)."""
        rows: dict[str, int] = {}
        for n, row in enumerate(self.rows):
            if isinstance(row.get("_thumbnail"), str):
                rows.setdefault(row["_thumbnail"].rsplit("/", 1)[-1], n)
        return rows

    @property
    def index_file(self) -> Path:
        """The FAISS index file (readable by `faiss.read_index` and `Dataset.load_faiss_index`)."""
        return self.path / self.manifest.data_dir / INDEX_FILE

    @property
    def metadata_file(self) -> Path:
        """The JSONL metadata file; line i describes FAISS id i (`Dataset.from_json` reads it)."""
        return self.path / self.manifest.data_dir / METADATA_FILE

    @property
    def thumbnails_dir(self) -> Path:
        """The only folder whose files the app may serve for this index."""
        return self.path / THUMBNAILS

    def vectors(self) -> np.ndarray:
        """(N, D) read-only view of the indexed vectors (valid while this object is alive): float32,
        or for a compressed index the memory-mapped float16 vectors that re-rank it."""
        return self.rerank if self.rerank is not None else vectors_of(self.faiss_index)

    def thumbnail(self, relative: Any) -> Path | None:
        """Absolute path of a thumbnail named in the metadata (None unless a generated name)."""
        return thumbnails.thumbnail_path(self.path, relative)
