"""Which indexes there are: the one listing of an index folder, read from manifests and re-read only
when a manifest changes.

A request that needs "the indexes of this folder" must not parse every manifest: the catalog lists the
folder and `stat`s each manifest (cheap), and parses only the manifests that are new or changed since
it last looked. Indexes built by another process (the CLI, a background build) after start-up show up
on the next call. `IndexInfo` is an index as listed (its manifest, nothing loaded or verified);
`LoadedIndex` is one loaded for searching.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from core.config import Settings, get_settings
from core.errors import IndexLoadError
from core.index.format.layout import MANIFEST, NAME_PATTERN, IndexType, Kind, index_root
from core.index.format.manifest import Manifest, index_size, read_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class IndexInfo:
    """A finished index as listed: its name, folder and manifest (nothing is loaded or verified)."""

    name: str
    path: Path
    manifest: Manifest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexInfo) and (self.path, self.manifest) == (other.path, other.manifest)

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def kind(self) -> Kind:
        return self.manifest.kind

    @property
    def model_key(self) -> str:
        return self.manifest.model_key

    @property
    def model_id(self) -> str:
        return self.manifest.model_id

    @property
    def count(self) -> int:
        return self.manifest.count

    @property
    def index_type(self) -> IndexType:
        return self.manifest.index_type

    @property
    def updated(self) -> str:
        return self.manifest.updated

    @cached_property
    def size_bytes(self) -> int:
        """Size on disk (`manifest.index_size`: as the manifest records it)."""
        return index_size(self.path, self.manifest)

    def summary(self) -> dict[str, Any]:
        """What `index info --json` prints of it (JSON values)."""
        manifest = self.manifest
        return {
            "name": self.name, "path": str(self.path), "kind": str(manifest.kind),
            "model_key": manifest.model_key, "model_id": manifest.model_id, "dim": manifest.dim,
            "count": manifest.count, "index_type": str(manifest.index_type), "source": manifest.source,
            "created": manifest.created, "updated": manifest.updated, "size_bytes": self.size_bytes,
        }  # fmt: skip


def index_folders(root: Path) -> list[Path]:
    """The folders of index folder `root` that hold a manifest, sorted by name (nothing is read)."""
    if not root.is_dir():
        return []
    return [
        folder
        for folder in sorted(root.iterdir())
        if folder.is_dir() and NAME_PATTERN.match(folder.name) and (folder / MANIFEST).is_file()
    ]


class Catalog:
    """The finished indexes of one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[Path, tuple[tuple[int, int, int], IndexInfo | None]] = {}
        self._lock = threading.Lock()

    def entries(self, kind: Kind | str | None = None) -> list[IndexInfo]:
        """Every finished index (of `kind`), by name; unreadable manifests are left out with a log line
        (`index info NAME` says what is wrong with one)."""
        folders = index_folders(self.root)
        with self._lock:
            found = [self._entry(folder) for folder in folders]
            self._seen = {folder: self._seen[folder] for folder in folders if folder in self._seen}
        return [entry for entry in found if entry is not None and (kind is None or entry.kind == kind)]

    def get(self, name: str) -> IndexInfo | None:
        """The finished index `name`, or None."""
        return next((entry for entry in self.entries() if entry.name == name), None)

    def _entry(self, folder: Path) -> IndexInfo | None:
        try:
            stat = (folder / MANIFEST).stat()
        except OSError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        seen = self._seen.get(folder)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        try:
            entry: IndexInfo | None = IndexInfo(folder.name, folder, read_manifest(folder))
        except IndexLoadError as error:
            log.warning("Skipping index folder %s: %s", folder, error)
            entry = None
        self._seen[folder] = (stamp, entry)
        return entry


_catalogs: dict[Path, Catalog] = {}
_catalogs_lock = threading.Lock()


def catalog(settings: Settings | None = None) -> Catalog:
    """The catalog of the settings' index folder (one per folder, kept for the process)."""
    root = index_root(settings or get_settings())
    with _catalogs_lock:
        return _catalogs.setdefault(root, Catalog(root))


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
    return catalog(settings).entries(kind)
