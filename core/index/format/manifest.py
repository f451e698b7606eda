"""`manifest.json`: what an index is. Parsing and validating it; its size on disk.

The manifest is the only file of an index replaced in place; it names the current version folder and
the checksum of every data file, so readers check it before they trust anything else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.errors import IndexLoadError
from core.index import hints
from core.index.format.fsio import size_on_disk
from core.index.format.layout import (
    FORMAT_VERSION,
    MANIFEST,
    PARTIAL,
    IndexType,
    Kind,
    version_dir,
)


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` records about an index. Readers check it before trusting any file.

    Attributes:
        name: Index name (its folder name).
        kind: What the rows are (images or texts).
        model_key: Registry key of the model that embedded the rows.
        model_id: Checkpoint(s) actually loaded (`Encoder.model_id`).
        dim: Embedding dimension.
        metric: Always "cosine": inner product of L2-normalised float32 vectors.
        count: Number of rows.
        index_type: Exact ("flat"), approximate ("hnsw", "ivf") or compressed ("ivfpq").
        index_params: Parameters of the FAISS index (HNSW: M, ef_construction, ef_search; IVF: nlist,
            nprobe; IVF-PQ: nlist, m, nprobe, candidates, memory budget; each with the measured
            recall@10); for "flat", why an approximate index was not used, if one was considered.
        exact_threshold: Largest count that was to be searched exactly when it was built.
        memory_budget: The budget it was built for (`--memory-budget`), or None for the default.
        source: Where the rows came from (folder, dataset or file), enough to rebuild it.
        language: Language code texts were embedded with (NLLB-CLIP text indexes), else None.
        created: ISO time of the first build; updated: of the last.
        version: Number of the version folder (`v<version>/`) holding the data files.
        files: {relative path: {"sha256", "bytes"}} of the data files (the FAISS index, the metadata,
            and a compressed index's float16 vectors), verified on load.
        thumbnails: {"count", "names_sha256"}: the thumbnail set (each file is named by its own sha256).
        last_build: Counts of the last build (added, kept, removed, skipped...) and the skipped items.
        format_version: Layout version of the folder.
    """

    name: str
    kind: Kind
    model_key: str
    model_id: str
    dim: int
    count: int
    index_type: IndexType
    index_params: dict[str, Any]
    exact_threshold: int
    source: dict[str, Any]
    created: str
    updated: str
    version: int
    files: dict[str, dict[str, Any]]
    thumbnails: dict[str, Any] = field(default_factory=dict)
    last_build: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    memory_budget: int | None = None
    metric: str = "cosine"
    format_version: int = FORMAT_VERSION

    @property
    def data_dir(self) -> str:
        return version_dir(self.version)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        """Parse and validate a manifest.

        Raises:
            IndexLoadError: not JSON, a newer format, or missing/mistyped fields.
        """
        try:
            data = json.loads(text)
        except ValueError as error:
            raise IndexLoadError(f"{where} is not valid JSON ({error}).") from None
        if not isinstance(data, dict):
            raise IndexLoadError(f"{where} does not hold a JSON object.")
        version = data.get("format_version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise IndexLoadError(
                f"{where} has index format {version}; this version of SigLIP Projects reads format "
                f"{FORMAT_VERSION}. Update the app, or rebuild the index with this version."
            )
        types = {
            "name": str, "kind": Kind, "model_key": str, "model_id": str, "dim": int, "count": int,
            "index_type": IndexType, "index_params": dict, "exact_threshold": int, "source": dict,
            "created": str, "updated": str, "version": int, "files": dict,
        }  # fmt: skip
        problems = [key for key, kind in types.items() if not _valid(data.get(key), kind)]
        if problems:
            raise IndexLoadError(f"{where} lacks valid fields: {', '.join(problems)}.")
        known = set(cls.__dataclass_fields__)
        values = {key: value for key, value in data.items() if key in known}
        return cls(**{**values, "kind": Kind(data["kind"]), "index_type": IndexType(data["index_type"])})


def _valid(value: Any, kind: type) -> bool:
    if issubclass(kind, (Kind, IndexType)):
        return value in {member.value for member in kind}  # type: ignore[attr-defined]
    return isinstance(value, kind)


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_manifest(folder: Path) -> Manifest:
    """Read and validate `<folder>/manifest.json` (no checksum verification).

    Raises:
        IndexLoadError: missing (with a hint to build or resume), unreadable or invalid.
    """
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndexLoadError(missing_message(folder)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise IndexLoadError(f"Cannot read {path}: {error}. {hints.rebuild_hint(folder.name)}") from None
    try:
        return Manifest.from_json(text, path)
    except IndexLoadError as error:
        raise IndexLoadError(f"{error} {hints.rebuild_hint(folder.name)}") from None


def missing_message(folder: Path) -> str:
    """Why index `folder` cannot be read though its manifest is absent: unfinished, or not there."""
    name = folder.name
    if (folder / PARTIAL).is_dir():
        batches = len(list((folder / PARTIAL).glob("batch-*.json")))
        return (
            f"Index '{name}' has not finished building ({batches} finished batches are kept in "
            f"{folder / PARTIAL}). {hints.resume_hint(name)}"
        )
    root = folder.parent
    others = sorted(path.parent.name for path in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []
    found = f" Indexes there: {', '.join(others)}." if others else ""
    return f"No index named '{name}' in {root}.{found} {hints.missing_hint(name)}"


def index_size(folder: Path, manifest: Manifest) -> int:
    """Bytes of index `folder` on disk, as its manifest records them (data files, thumbnails, the
    manifest itself): no folder walk, except for manifests written before thumbnails recorded their
    size. The one size formula: `index info` and the app's `/list_indexes` both show it."""
    if "bytes" not in manifest.thumbnails and manifest.kind == Kind.IMAGE:
        return size_on_disk(folder)
    recorded = sum(int(record.get("bytes", 0)) for record in manifest.files.values())
    return recorded + int(manifest.thumbnails.get("bytes", 0)) + len(manifest.to_json().encode())
