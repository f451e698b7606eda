"""Checking an index against its manifest: the data files (size and sha256, or sampled blocks for
large files), and for `index info --verify` every byte, every metadata row and every thumbnail.

Anything that does not match is a damaged index, refused with the command that rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import IndexLoadError
from core.index import hints
from core.index.format import fsio, thumbnails
from core.index.format.fsio import inside, sample_sha256, sha256_file
from core.index.format.loaded import LoadedIndex
from core.index.format.manifest import Manifest

log = logging.getLogger(__name__)


def damaged(name: str, manifest: Manifest, what: str) -> IndexLoadError:
    """The error of a damaged index `name`: what is wrong, and the command that rebuilds it."""
    return IndexLoadError(f"Index '{name}' is damaged: {what}. {_rebuild_hint(name, manifest)}")


def _rebuild_hint(name: str, manifest: Manifest) -> str:
    return hints.rebuild_hint(name, manifest.source, manifest.model_key)


def verify_files(folder: Path, manifest: Manifest, *, full: bool = False) -> str:
    """Check each data file named by the manifest of index `folder`: its size, and its sha256, or
    (unless `full`) for files above `FULL_VERIFY_BYTES` the sha256 of sampled blocks. Returns "full" or
    "sampled".

    Raises:
        IndexLoadError: a file is missing or differs; the message says how to rebuild.
    """
    name = folder.name
    if not manifest.files:
        raise IndexLoadError(f"Index '{name}' lists no data files. {_rebuild_hint(name, manifest)}")
    sampled = 0
    for relative, record in manifest.files.items():
        path = folder / relative
        if not inside(path, folder):
            raise IndexLoadError(f"Index '{name}' names a file outside its folder: {relative}.")
        large = int(record.get("bytes", 0)) > fsio.FULL_VERIFY_BYTES
        sample = not full and large and bool(record.get("sample_sha256"))
        try:
            ok = path.stat().st_size == record.get("bytes") and _same_digest(path, record, sample)
        except OSError:
            raise damaged(name, manifest, f"{relative} is missing") from None
        if not ok:
            raise damaged(name, manifest, f"{relative} does not match the checksum in its manifest")
        sampled += int(record["bytes"]) if sample else 0
    if sampled:
        log.info(
            "Index %s: %.1f GB of data files checked by size and sampled blocks; `%s` hashes every byte.",
            name, sampled / 1e9, hints.verify_command(name),
        )  # fmt: skip
    return "sampled" if sampled else "full"


def verify_all(folder: Path, loaded: LoadedIndex) -> None:
    """Check everything of an index read with `verify="full"`: every metadata row, and every thumbnail
    against its name.

    Raises:
        IndexLoadError: with every problem found and how to rebuild.
    """
    name, manifest = folder.name, loaded.manifest
    try:
        rows = list(loaded.rows)
    except ValueError as error:
        raise damaged(name, manifest, f"a metadata row is not JSON ({error})") from None
    if not all(isinstance(row, dict) and isinstance(row.get("_key"), str) for row in rows):
        raise damaged(name, manifest, "bad metadata rows")
    referenced = [row["_thumbnail"] for row in rows if row.get("_thumbnail")]
    problems = thumbnails.verify_thumbnails(folder, manifest.thumbnails, referenced)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise damaged(name, manifest, "; ".join(problems[:5]) + more)


def _same_digest(path: Path, record: Mapping[str, Any], sampled: bool) -> bool:
    if sampled:
        return sample_sha256(path) == record["sample_sha256"]
    return sha256_file(path) == record.get("sha256")
