"""One index folder on disk: the only writer (`commit`) and the only reader (`read`) of its format.

A commit writes a complete new version folder, then replaces `manifest.json`, then deletes the old
version and unused thumbnails: whenever it stops, the manifest names a complete, checksummed version
(or there is none yet). A read checks the manifest, every data file's sha256, and that the files hold
what the manifest says; anything else is a damaged index, refused with the command that rebuilds it.
Data files above `fsio.FULL_VERIFY_BYTES` are checked on read by size and a sampled sha256 (hashing a
5M-row compressed index whole takes ~7 s per load); `verify()` (`index info --verify`) hashes all
(the checks are `core.index.format.verify`'s).
Nothing here uses pickle: metadata is JSON, vectors are FAISS's own format or `.npy`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings
from core.errors import IndexLoadError
from core.index.ann import BuiltIndex, ann_shape, read_ann, read_rerank, write_ann, write_rerank
from core.index.format import thumbnails, verify
from core.index.format.fsio import atomic_write, file_record, is_temporary, writing
from core.index.format.layout import (
    INDEX_FILE,
    MANIFEST,
    METADATA_FILE,
    PARTIAL,
    RERANK_FILE,
    IndexType,
    Kind,
    index_path,
    version_dir,
    version_of,
)
from core.index.format.loaded import LoadedIndex
from core.index.format.lock import build_lock
from core.index.format.manifest import Manifest, missing_message, now_iso, read_manifest
from core.index.format.partial import PartialBuild
from core.index.format.rows import read_rows
from core.index.format.verify import damaged

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildRecord:
    """What a build knows about the version it commits; the store adds the rest of the manifest
    (count, index type and parameters, version, checksums, times)."""

    kind: Kind
    model_key: str
    model_id: str
    dim: int
    exact_threshold: int
    source: dict[str, Any]
    language: str | None
    last_build: dict[str, Any] = field(default_factory=dict)
    created: str | None = None
    memory_budget: int | None = None


class IndexStore:
    """The folder of one index. Everything that reads or writes its files goes through here."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def named(cls, name: str, settings: Settings | None = None) -> IndexStore:
        """The store of index `name` in the settings' index folder.

        Raises:
            InvalidInputError: `name` is not a valid index name.
        """
        return cls(index_path(name, settings))

    @property
    def name(self) -> str:
        return self.folder.name

    def exists(self) -> bool:
        """True when a manifest is there (finished, perhaps damaged); False for none or unfinished."""
        return (self.folder / MANIFEST).exists()

    def manifest(self) -> Manifest:
        """The manifest (no checksum verification). Raises IndexLoadError, as `read_manifest`."""
        return read_manifest(self.folder)

    # Reading -------------------------------------------------------------------------------------

    def read(self, *, mmap: bool = False, verify: bool | str = True) -> LoadedIndex:
        """The current version, checked: manifest, data files (see `verify_files`; `verify` True: the
        default, "full": every byte, False: not at all), and that they hold the rows, dimension and
        index type the manifest says. Large metadata files are read on access (`core.index.format.rows`).

        Raises:
            IndexLoadError: no index (how to build one), an unfinished build (how to resume it), or a
                damaged one (what is wrong, and how to rebuild it).
        """
        manifest = self.manifest()
        verified = self.verify_files(manifest, full=verify == "full") if verify else ""
        data = self.folder / manifest.data_dir
        try:
            index = read_ann(data / INDEX_FILE, mmap=mmap)
            rows = read_rows(data / METADATA_FILE)
            compressed = manifest.index_type == IndexType.IVFPQ
            rerank = read_rerank(data / RERANK_FILE) if compressed else None
        except (OSError, RuntimeError, ValueError) as error:
            raise damaged(self.name, manifest, " ".join(str(error).split())[:200]) from None
        kind, dim, count = ann_shape(index)
        shape = (manifest.count, manifest.dim)
        reranks = rerank is None or (rerank.shape, rerank.dtype) == (shape, np.float16)
        if (kind, dim, count, len(rows)) != (
            manifest.index_type,
            *shape[::-1],
            manifest.count,
        ) or not reranks:
            extra = "" if rerank is None else f" and {rerank.dtype} vectors of shape {rerank.shape}"
            raise damaged(
                self.name,
                manifest,
                f"its files hold a {kind} index of {count} {dim}-d vectors and {len(rows)} metadata "
                f"rows{extra}, its manifest says {manifest.index_type}, {manifest.count} rows of "
                f"{manifest.dim}-d",
            )
        probe = rows if isinstance(rows, list) else [rows[0], rows[-1]] if len(rows) else []
        if not all(isinstance(row, dict) and isinstance(row.get("_key"), str) for row in probe):
            raise damaged(self.name, manifest, "bad metadata rows")
        return LoadedIndex(self.name, self.folder, manifest, index, rows, mmap, verified, rerank)

    def verify_files(self, manifest: Manifest, *, full: bool = False) -> str:
        """Check the data files the manifest names (see `verify.verify_files`); "full" or "sampled"."""
        return verify.verify_files(self.folder, manifest, full=full)

    def verify(self) -> None:
        """Check everything (see `verify.verify_all`).

        Raises:
            IndexLoadError: with every problem found and how to rebuild.
        """
        verify.verify_all(self.folder, self.read(mmap=True, verify="full"))

    def stamp(self) -> tuple[tuple[int, int, int], ...]:
        """Identity of the manifest and of the data files: a change in any of them means a new version."""
        stamps = []
        data_files = sorted(self.folder.glob(f"v*/{INDEX_FILE}")) + sorted(
            self.folder.glob(f"v*/{METADATA_FILE}")
        )
        for path in (self.folder / MANIFEST, *data_files):
            with contextlib.suppress(OSError):
                stat = path.stat()
                stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    # Writing -------------------------------------------------------------------------------------

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold `<folder>/.lock` for the duration of a build.

        Raises: IndexWriteError: the folder cannot be made, or another build of this index is running.
        """
        return build_lock(self.folder)

    def delete(self) -> None:
        """Remove the index: every version, its thumbnails and any unfinished build.

        The folder is first renamed away (readers see the index gone at once), then removed.

        Raises:
            IndexLoadError: there is no index of this name.
            IndexWriteError: a build of it is running, or the folder cannot be removed.
        """
        if not self.folder.is_dir():
            raise IndexLoadError(missing_message(self.folder))
        trash = self.folder.with_name(f".deleting-{self.name}-{uuid.uuid4().hex[:8]}")
        with self.lock(), writing(self.folder):
            os.rename(self.folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def partial(self, job: dict[str, Any]) -> PartialBuild:
        """The finished batches of an unfinished build of `job` (others' are discarded)."""
        with writing(self.folder):
            return PartialBuild(self.folder / PARTIAL, job)

    def write_thumbnail(self, data: bytes) -> str:
        """Store a thumbnail (JPEG bytes); return its path relative to the index folder."""
        with writing(self.folder):
            return thumbnails.write_thumbnail(self.folder, data)

    def commit(self, rows: list[dict[str, Any]], built: BuiltIndex, record: BuildRecord) -> Manifest:
        """Write `rows` and `built` as a new version, make it current, then clean up; return its manifest.

        Raises:
            IndexWriteError: the disk is full or the folder is not writable; the previous version stays.
        """
        with writing(self.folder):
            version = self._next_version()
            data = self.folder / version_dir(version)
            data.mkdir()
            atomic_write(data / INDEX_FILE, lambda tmp: write_ann(built.index, tmp))
            atomic_write(data / METADATA_FILE, lambda tmp: tmp.write_text(_jsonl(rows), encoding="utf-8"))
            files = [INDEX_FILE, METADATA_FILE]
            if built.rerank is not None:  # a compressed index: its float16 vectors, beside it
                atomic_write(data / RERANK_FILE, lambda tmp: write_rerank(built.rerank, tmp))
                files.append(RERANK_FILE)
            now = now_iso()
            names = [row["_thumbnail"].split("/")[-1] for row in rows if row.get("_thumbnail")]
            manifest = Manifest(
                name=self.name, kind=record.kind, model_key=record.model_key, model_id=record.model_id,
                dim=record.dim, count=len(rows), index_type=built.index_type, index_params=built.params,
                exact_threshold=record.exact_threshold, source=record.source, language=record.language,
                created=record.created or now, updated=now, version=version,
                files={f"{data.name}/{f}": file_record(data / f) for f in files},
                thumbnails=thumbnails.thumbnails_record(names, self.folder) if record.kind == Kind.IMAGE
                else {},
                last_build=record.last_build, memory_budget=record.memory_budget,
            )  # fmt: skip
            self.publish(manifest)
        self.clean(version, rows)
        return manifest

    def publish(self, manifest: Manifest) -> None:
        """The commit point: replace `manifest.json` atomically. Until this rename, readers see the
        previous version; after it, the new one."""
        atomic_write(self.folder / MANIFEST, lambda tmp: tmp.write_text(manifest.to_json(), encoding="utf-8"))

    def clean(self, keep_version: int, rows: Iterable[Mapping[str, Any]]) -> None:
        """Delete other version folders, temporary files, unused thumbnails and unfinished batches.
        Best effort: a failure only logs (the index itself is complete)."""
        for path in self.folder.iterdir():
            version = version_of(path.name)
            try:
                if version is not None and version != keep_version:
                    shutil.rmtree(path)
                elif is_temporary(path):
                    path.unlink()
            except OSError as error:
                log.warning("Could not remove %s: %s", path, error)
        thumbnails.remove_unused(self.folder, {row["_thumbnail"] for row in rows if row.get("_thumbnail")})
        shutil.rmtree(self.folder / PARTIAL, ignore_errors=True)

    def _next_version(self) -> int:
        """A version number above every version folder present, finished or not."""
        numbers = [number for path in self.folder.iterdir() if (number := version_of(path.name)) is not None]
        try:
            current = self.manifest().version
        except IndexLoadError:
            current = 0
        return max([current, *numbers], default=0) + 1


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n" for row in rows)
