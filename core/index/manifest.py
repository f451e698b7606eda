"""`manifest.json`: what an index is. Parsing and validating it, and listing the indexes of a folder.

The manifest is the only file of an index replaced in place; it names the current version folder and
the checksum of every data file, so readers check it before they trust anything else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import IndexLoadError
from core.index import hints
from core.index.layout import (
    FORMAT_VERSION,
    MANIFEST,
    NAME_PATTERN,
    PARTIAL,
    IndexType,
    Kind,
    index_root,
    version_dir,
)

log = logging.getLogger(__name__)


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
        index_type: Exact ("flat") or approximate ("hnsw", "ivf").
        index_params: Parameters of the FAISS index (HNSW: M, ef_construction, ef_search, measured
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


@dataclass(frozen=True)
class IndexInfo:
    """One index of the index folder, as its manifest describes it (nothing is loaded or verified).

    Attributes:
        name, path: Index name and absolute folder.
        kind: Images or texts.
        model_key, model_id, dim: The model it was built with.
        count: Number of items.
        index_type: Exact ("flat") or approximate ("hnsw", "ivf").
        source: Where the items came from.
        created, updated: ISO times.
        size_bytes: Size of the index on disk, as its manifest records it.
    """

    name: str
    path: Path
    kind: Kind
    model_key: str
    model_id: str
    dim: int
    count: int
    index_type: IndexType
    source: dict[str, Any]
    created: str
    updated: str
    size_bytes: int

    @classmethod
    def from_manifest(cls, folder: Path, manifest: Manifest) -> IndexInfo:
        return cls(
            name=folder.name,
            path=folder,
            kind=manifest.kind,
            model_key=manifest.model_key,
            model_id=manifest.model_id,
            dim=manifest.dim,
            count=manifest.count,
            index_type=manifest.index_type,
            source=manifest.source,
            created=manifest.created,
            updated=manifest.updated,
            size_bytes=manifest_size(folder, manifest),
        )


def manifest_size(folder: Path, manifest: Manifest) -> int:
    """Size of an index as its manifest records it (no folder walk), or measured if it does not."""
    from core.index.fsio import size_on_disk

    if "bytes" not in manifest.thumbnails and manifest.kind == Kind.IMAGE:
        return size_on_disk(folder)
    recorded = sum(int(record.get("bytes", 0)) for record in manifest.files.values())
    return recorded + int(manifest.thumbnails.get("bytes", 0)) + len(manifest.to_json().encode())


def list_indexes(settings: Settings | None = None, kind: Kind | str | None = None) -> list[IndexInfo]:
    """Every finished index in the index folder, sorted by name.

    Folders without a readable manifest (unfinished or damaged builds) are left out; `index info` on
    their name says what is wrong.

    Args:
        settings: Where the indexes are (`index_dir`); default: the process settings.
        kind: Only image or only text indexes; default: both.

    Returns:
        One IndexInfo per index, from its manifest (nothing is loaded or verified).
    """
    return [IndexInfo.from_manifest(folder, manifest) for folder, manifest in iter_manifests(settings, kind)]


def index_folders(root: Path) -> Iterator[Path]:
    """The folders of index folder `root` that hold a manifest, sorted by name (nothing is read)."""
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and NAME_PATTERN.match(folder.name) and (folder / MANIFEST).is_file():
            yield folder


def iter_manifests(
    settings: Settings | None = None, kind: Kind | str | None = None
) -> Iterator[tuple[Path, Manifest]]:
    """(folder, manifest) of every finished index in the index folder, sorted by name.

    Folders without a readable manifest (unfinished or damaged builds) are left out with a log line.
    """
    for folder in index_folders(index_root(settings)):
        try:
            manifest = read_manifest(folder)
        except IndexLoadError as error:
            log.warning("Skipping index folder %s: %s", folder, error)
            continue
        if kind is None or manifest.kind == kind:
            yield folder, manifest
