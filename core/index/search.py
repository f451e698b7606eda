"""Loading an index (checked, cached, memory-mapped when large) and searching it.

Any query goes to any index whose model embedded it: a text or an image (a sketch is an image) to an
image index, a text or an image to a text index. Results are cosine similarities, best first, with
FAISS's `-1` padding removed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings, get_settings
from core.errors import IndexLoadError, IndexMismatchError, InvalidInputError
from core.index import faiss_index
from core.index.store import (
    INDEX_FILE,
    MANIFEST,
    METADATA_FILE,
    THUMBNAILS,
    Manifest,
    index_path,
    is_thumbnail_name,
    read_manifest,
    rebuild_command,
    rebuild_hint,
    verify_files,
    verify_thumbnails,
)
from core.registry import get_spec, resolve_sources, sources_id

#: What `search` accepts as one query: a text, an image (PIL, or a path to an image file), or a vector.
Query = str | Image.Image | os.PathLike | np.ndarray


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        id: Row of the item in the index (its FAISS id and its line in metadata.jsonl).
        score: Cosine similarity to the query.
        key: Stable name of the item across builds (relative path, "row:12", "text:<hash>#1").
        metadata: User-facing fields: `path` (folders) or `row` (datasets) or `text` (text indexes),
            `width`/`height` of images, and fields such as title, artist, style, genre, caption.
        thumbnail: Absolute path of the item's display thumbnail (image indexes), else None.
    """

    id: int
    score: float
    key: str
    metadata: dict[str, Any]
    thumbnail: Path | None


@dataclass(eq=False)
class LoadedIndex:
    """An index in memory (or memory-mapped), checked against its manifest. Get one with `load_index`."""

    name: str
    path: Path
    manifest: Manifest
    faiss_index: Any
    rows: list[dict[str, Any]]
    mmap: bool
    verified: bool = False

    @property
    def kind(self) -> str:
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
        """(N, D) read-only view of the indexed vectors (valid while this object is alive)."""
        return faiss_index.vectors_of(self.faiss_index)

    def hit(self, row: int, score: float) -> Hit:
        data = self.rows[row]
        return Hit(
            id=row,
            score=float(score),
            key=data["_key"],
            metadata={k: v for k, v in data.items() if not k.startswith("_")},
            thumbnail=self.thumbnail(data.get("_thumbnail")),
        )

    def thumbnail(self, relative: Any) -> Path | None:
        """Absolute path of a thumbnail named in the metadata; None unless it is a generated name in
        `thumbnails/` (so a path from a tampered index can never point elsewhere)."""
        if not isinstance(relative, str):
            return None
        folder, _, name = relative.partition("/")
        if folder != THUMBNAILS or not is_thumbnail_name(name):
            return None
        return self.thumbnails_dir / name


_cache: dict[tuple[Path, bool], tuple[tuple[tuple[int, int, int], ...], LoadedIndex]] = {}
_cache_lock = threading.Lock()


def load_index(
    name: str,
    model_key: str | None = None,
    settings: Settings | None = None,
    *,
    mmap: bool | None = None,
    verify: bool = True,
) -> LoadedIndex:
    """Load index `name` from the index folder, once per version (later calls return the cached one).

    Args:
        name: Index name (a folder of `settings.index_dir`).
        model_key: The model the caller will query with. When given, the index must have been built
            with that key and the checkpoint the settings load for it.
        settings: Index folder and model overrides; default: the process settings.
        mmap: Memory-map the FAISS index instead of reading it into memory; default: for index files
            of `faiss_index.MMAP_MIN_BYTES` or more.
        verify: Check the data files against the manifest's sha256 checksums.

    Returns:
        The LoadedIndex.

    Raises:
        IndexLoadError: no such index (the message says how to build it), an unfinished build (how
            to resume it), or damaged files (how to rebuild it).
        IndexMismatchError: built with another model or checkpoint than `model_key`; names both.
        InvalidInputError: `name` is not a valid index name.
        UnknownModelError: `model_key` is not in the registry.
    """
    settings = settings or get_settings()
    folder = index_path(name, settings)
    if model_key is not None:
        check_model(read_manifest(folder), model_key, settings)
    for attempt in range(2):
        stamp = _stamp(folder)
        manifest = read_manifest(folder)
        use_mmap = mmap if mmap is not None else _is_large(folder, manifest)
        with _cache_lock:
            cached = _cache.get((folder, use_mmap))
        if cached is not None and cached[0] == stamp:
            if verify and not cached[1].verified:
                verify_files(folder, manifest)
                cached[1].verified = True
            return cached[1]
        try:
            loaded = _load(folder, manifest, use_mmap, verify)
        except IndexLoadError:
            if attempt == 0 and _stamp(folder) != stamp:
                continue  # a build replaced the version while we read it: read the new one
            raise
        with _cache_lock:
            _cache[(folder, use_mmap)] = (stamp, loaded)
        return loaded
    raise AssertionError("unreachable")


def _stamp(folder: Path) -> tuple[tuple[int, int, int], ...]:
    """Identity of the manifest and of the data files it names: a change in any of them reloads."""
    stamps = []
    data_files = sorted(folder.glob(f"v*/{INDEX_FILE}")) + sorted(folder.glob(f"v*/{METADATA_FILE}"))
    for path in (folder / MANIFEST, *data_files):
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _is_large(folder: Path, manifest: Manifest) -> bool:
    record = manifest.files.get(f"{manifest.data_dir}/{INDEX_FILE}", {})
    return int(record.get("bytes", 0)) >= faiss_index.MMAP_MIN_BYTES


def _load(folder: Path, manifest: Manifest, mmap: bool, verify: bool) -> LoadedIndex:
    name = folder.name
    if verify:
        verify_files(folder, manifest)
    data = folder / manifest.data_dir
    try:
        index = faiss_index.read_index(data / INDEX_FILE, mmap=mmap)
        lines = (data / METADATA_FILE).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, RuntimeError, ValueError) as error:
        raise IndexLoadError(
            f"Index '{name}' is damaged: {' '.join(str(error).split())[:200]}. {rebuild_hint(name, manifest)}"
        ) from None
    kind, dim, count = faiss_index.describe(index)
    expected = (manifest.index_type, manifest.dim, manifest.count, manifest.count)
    if (kind, dim, count, len(rows)) != expected:
        raise IndexLoadError(
            f"Index '{name}' is damaged: its files hold a {kind} index of {count} {dim}-d vectors and "
            f"{len(rows)} metadata rows, its manifest says {manifest.index_type}, {manifest.count} rows of "
            f"{manifest.dim}-d. {rebuild_hint(name, manifest)}"
        )
    if not all(isinstance(row, dict) and isinstance(row.get("_key"), str) for row in rows):
        raise IndexLoadError(f"Index '{name}' is damaged: bad metadata rows. {rebuild_hint(name, manifest)}")
    return LoadedIndex(name, folder, manifest, index, rows, mmap, verified=verify)


def expected_model_id(model_key: str, settings: Settings) -> str:
    """The `Encoder.model_id` that `get_encoder(model_key, settings)` would have, without loading it."""
    return sources_id(resolve_sources(get_spec(model_key), settings.model_overrides))


def check_model(manifest: Manifest, model_key: str, settings: Settings | None = None) -> None:
    """Check that an index was built with `model_key` as the settings load it.

    Raises:
        IndexMismatchError: another model or checkpoint; the message names both and what to do.
        UnknownModelError: `model_key` is not in the registry.
    """
    settings = settings or get_settings()
    wanted = expected_model_id(model_key, settings)
    if (manifest.model_key, manifest.model_id) != (model_key, wanted):
        raise IndexMismatchError(
            f"Index '{manifest.name}' was built with model '{manifest.model_key}' ({manifest.model_id}, "
            f"{manifest.dim}-d), not with '{model_key}' ({wanted}). Query it with '{manifest.model_key}' "
            f"loaded from the same checkpoint, or rebuild it for '{model_key}': "
            f"`{rebuild_command(manifest.name, manifest, model_key)}`."
        )


def search(
    index: LoadedIndex | str,
    query: Query,
    k: int = 10,
    *,
    language: str | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """The `k` items of `index` nearest to one query, best first.

    Args:
        index: A LoadedIndex, or an index name (loaded with `load_index`).
        query: A text, a PIL image (a sketch too), a path to an image file, or a vector of the index's
            dimension (normalised here exactly as the indexed vectors were). Texts and images are
            embedded with the index's own model.
        k: Number of results (fewer when the index holds fewer items).
        language: Source-language code of a text query, for models that need one (NLLB-CLIP);
            default: the language a text index was built with.
        settings: Used to load the index (by name) and the model.

    Returns:
        Up to k Hits, scores descending.

    Raises:
        InvalidInputError: empty text, unreadable image, k < 1, or several query vectors.
        IndexMismatchError: a vector of the wrong dimension, or the model the settings load for the
            index's key is not the checkpoint the index was built with.
        IndexLoadError, ModelLoadError: as `load_index` and `get_encoder`.
    """
    vectors = np.asarray(query) if isinstance(query, np.ndarray) else None
    if vectors is not None and vectors.ndim == 2 and len(vectors) != 1:
        raise InvalidInputError(f"search() takes one query; got {len(vectors)} vectors (use search_batch).")
    loaded = index if isinstance(index, LoadedIndex) else load_index(index, settings=settings)
    return search_batch(loaded, embed_query(loaded, query, language=language, settings=settings), k)[0]


def search_batch(index: LoadedIndex | str, vectors: np.ndarray, k: int = 10) -> list[list[Hit]]:
    """The `k` nearest items for each row of `vectors` (Q, D), best first.

    Raises:
        IndexMismatchError: the vectors do not have the index's dimension.
        InvalidInputError: k < 1, or NaN/infinite values.
    """
    loaded = index if isinstance(index, LoadedIndex) else load_index(index)
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a whole number of at least 1, got {k!r}.")
    queries = faiss_index.prepare_vectors(vectors, loaded.dim)
    manifest = loaded.manifest
    scores, ids = faiss_index.search(
        loaded.faiss_index, manifest.index_type, manifest.index_params, queries, k
    )
    return [
        [loaded.hit(int(i), s) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0]
        for row_scores, row_ids in zip(scores, ids, strict=True)
    ]


def embed_query(
    index: LoadedIndex, query: Query, *, language: str | None = None, settings: Settings | None = None
) -> np.ndarray:
    """Embed a text or image query with the index's model; a vector is returned as (1, D) float32.

    Raises:
        InvalidInputError: empty text, unreadable image, unsupported type.
        IndexMismatchError: the model loaded for the index's key is not the one it was built with.
    """
    if isinstance(query, np.ndarray):
        return query.reshape(1, -1) if query.ndim == 1 else query
    if isinstance(query, str):
        if not query.strip():
            raise InvalidInputError("The query text is empty. Type what to search for.")
        encoder = _encoder(index, settings)
        language = language or (index.manifest.language if index.kind == "text" else None)
        return encoder.embed_texts([query], language=language)
    if isinstance(query, os.PathLike):
        from core.images import open_image

        query = open_image(query)
    if isinstance(query, Image.Image):
        return _encoder(index, settings).embed_images([query])
    raise InvalidInputError(
        f"Cannot search with a {type(query).__name__}: give a text, an image or a vector."
    )


def _encoder(index: LoadedIndex, settings: Settings | None) -> Any:
    from core.encoders import get_encoder

    manifest = index.manifest
    encoder = get_encoder(manifest.model_key, settings)
    if (encoder.model_id, encoder.dim) != (manifest.model_id, manifest.dim):
        raise IndexMismatchError(
            f"Index '{index.name}' was built with '{manifest.model_key}' from {manifest.model_id} "
            f"({manifest.dim}-d), but '{manifest.model_key}' now loads {encoder.model_id} ({encoder.dim}-d). "
            "Point the model at the same checkpoint, or rebuild the index: "
            f"`{rebuild_command(index.name, manifest)}`."
        )
    return encoder


def verify_index(name: str, settings: Settings | None = None) -> None:
    """Check an index fully: manifest, data files (sha256), structure, and every thumbnail.

    Raises:
        IndexLoadError: with every problem found and how to rebuild.
    """
    loaded = load_index(name, settings=settings, mmap=True, verify=True)
    referenced = [row["_thumbnail"] for row in loaded.rows if row.get("_thumbnail")]
    problems = verify_thumbnails(loaded.path, loaded.manifest, referenced)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise IndexLoadError(f"Index '{name}' is damaged: {shown}. {rebuild_hint(name, loaded.manifest)}")


def as_hf_dataset(index: LoadedIndex | str, column: str = "embeddings") -> Any:
    """The index's metadata as a `datasets.Dataset` with its FAISS index attached under `column`,
    so `dataset.get_nearest_examples(column, query_vector, k)` searches it."""
    from datasets import Dataset

    loaded = index if isinstance(index, LoadedIndex) else load_index(index)
    dataset = Dataset.from_list(loaded.rows)
    dataset.load_faiss_index(column, loaded.index_file)
    return dataset


def clear_cache() -> None:
    """Forget every loaded index."""
    with _cache_lock:
        _cache.clear()
