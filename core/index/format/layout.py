"""Where an index lives and what its files are called; the vocabulary (kinds, index types) of the format.

`IndexType` is the FAISS index types of `core.index.ann`, re-exported here as the format's word for them.

indexes/<name>/
    manifest.json         the only file replaced in place (atomically); names the current version
    v3/index.faiss        FAISS index; row i is line i of metadata.jsonl
    v3/metadata.jsonl     one JSON object per item
    v3/vectors.f16.npy    float16 vectors re-ranking a compressed (IVF-PQ) index, memory-mapped
    thumbnails/<sha>.jpg  display thumbnails, named by the sha256 of their bytes
    .partial/             finished batches of an unfinished build (removed when it completes)
    .lock                 held by the running build
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from core.config import Settings, get_settings
from core.errors import InvalidInputError
from core.index.ann.basics import IndexType
from core.limits import quote

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
METADATA_FILE = "metadata.jsonl"
RERANK_FILE = "vectors.f16.npy"
THUMBNAILS = "thumbnails"
PARTIAL = ".partial"
LOCK = ".lock"
#: The default gallery (`core.index.service.gallery`): its index, which Draw to Search shows first, and
#: the Hub dataset it is built from.
WIKIART_INDEX = "wikiart"
WIKIART_DATASET = "huggan/wikiart"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^v(\d+)$")


class Kind(str, Enum):
    """What the rows of an index are."""

    IMAGE = "image"
    TEXT = "text"

    def __str__(self) -> str:
        return self.value


def index_root(settings: Settings | None = None) -> Path:
    """The folder holding every index (`SIGLIP_PROJECTS_INDEX_DIR`, default `./indexes`), absolute."""
    return Path((settings or get_settings()).index_dir).expanduser().resolve()


def check_name(name: str) -> str:
    """Return `name` if it is a valid index name (a plain folder name).

    Raises:
        InvalidInputError: empty, too long, or with characters other than letters, digits, `.`, `_`, `-`.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"{quote(name)} is not a valid index name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. wikiart-siglip)."
        )
    return name


def index_path(name: str, settings: Settings | None = None) -> Path:
    """Absolute folder of index `name` (it may not exist yet).

    Raises:
        InvalidInputError: `name` is not a valid index name.
    """
    return index_root(settings) / check_name(name)


def version_dir(version: int) -> str:
    """The name of the folder holding version `version`'s data files."""
    return f"v{version}"


def version_of(folder_name: str) -> int | None:
    """The version number of a version folder's name, or None for any other name."""
    match = VERSION_PATTERN.match(folder_name)
    return int(match.group(1)) if match else None


__all__ = [
    "FORMAT_VERSION", "INDEX_FILE", "LOCK", "MANIFEST", "METADATA_FILE", "NAME_PATTERN", "PARTIAL",
    "RERANK_FILE", "THUMBNAILS", "WIKIART_DATASET", "WIKIART_INDEX", "IndexType", "Kind", "check_name",
    "index_path", "index_root", "version_dir", "version_of",
]  # fmt: skip
