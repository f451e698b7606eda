"""Which indexes there are, and which one serves which model: read from manifests, re-read only when
a manifest changes.

A request that needs "the index for model X" must not read every manifest of the index folder: the
catalog lists the folder and `stat`s each manifest (cheap), and parses only the manifests that are new
or changed since it last looked. Indexes built by another process (the CLI, a background build) after
start-up show up on the next call.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings, get_settings
from core.errors import IndexLoadError, SiglipProjectsError
from core.index.compat import check_settings
from core.index.layout import MANIFEST, Kind, index_root
from core.index.manifest import Manifest, index_folders, read_manifest
from core.registry import MODELS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    """A finished index: its name, folder and manifest (nothing is loaded or verified)."""

    name: str
    path: Path
    manifest: Manifest

    @property
    def model_key(self) -> str:
        return self.manifest.model_key

    @property
    def count(self) -> int:
        return self.manifest.count


class Catalog:
    """The finished indexes of one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[Path, tuple[tuple[int, int, int], CatalogEntry | None]] = {}
        self._lock = threading.Lock()

    def entries(self, kind: Kind | str | None = None) -> list[CatalogEntry]:
        """Every finished index (of `kind`), by name; unreadable manifests are left out with a log line."""
        folders = list(index_folders(self.root))
        with self._lock:
            found = [self._entry(folder) for folder in folders]
            self._seen = {folder: self._seen[folder] for folder in folders if folder in self._seen}
        return [
            entry for entry in found if entry is not None and (kind is None or entry.manifest.kind == kind)
        ]

    def _entry(self, folder: Path) -> CatalogEntry | None:
        try:
            stat = (folder / MANIFEST).stat()
        except OSError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        seen = self._seen.get(folder)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        try:
            entry: CatalogEntry | None = CatalogEntry(folder.name, folder, read_manifest(folder))
        except IndexLoadError as error:
            log.warning("Skipping index folder %s: %s", folder, error)
            entry = None
        self._seen[folder] = (stamp, entry)
        return entry

    def by_model(self, settings: Settings | None = None, first: str | None = None) -> dict[str, CatalogEntry]:
        """{model key: image index to search with it}, in registry order.

        Only indexes built with the checkpoint the settings load for their model are usable; among
        several for one model, the index named `first` comes first, then the others by name.
        """
        chosen: dict[str, CatalogEntry] = {}
        for entry in sorted(self.entries(Kind.IMAGE), key=lambda e: (e.name != first, e.name)):
            if entry.model_key in chosen or entry.model_key not in MODELS:
                continue
            try:
                check_settings(entry.manifest, entry.model_key, settings)
            except SiglipProjectsError as error:
                log.debug("Index %s is not searchable with the current models: %s", entry.name, error)
                continue
            chosen[entry.model_key] = entry
        return {key: chosen[key] for key in MODELS if key in chosen}


_catalogs: dict[Path, Catalog] = {}
_catalogs_lock = threading.Lock()


def catalog(settings: Settings | None = None) -> Catalog:
    """The catalog of the settings' index folder (one per folder, kept for the process)."""
    root = index_root(settings or get_settings())
    with _catalogs_lock:
        return _catalogs.setdefault(root, Catalog(root))
