"""An index on disk: its folder layout, manifest, checksums, atomic writes and the build lock.

    indexes/<name>/
        manifest.json         the only file replaced in place (atomically); names the current version
        v3/index.faiss        FAISS index; row i is line i of metadata.jsonl
        v3/metadata.jsonl     one JSON object per item
        thumbnails/<sha>.jpg  display thumbnails, named by the sha256 of their bytes
        .partial/             finished batches of an unfinished build (removed when it completes)
        .lock                 held by the running build

A build writes a complete new version folder, then replaces `manifest.json`, then deletes the old
version: whenever it stops, the manifest names a complete, checksummed version (or there is none yet).
Nothing here uses pickle: metadata is JSON, vectors are `.npy` read with `allow_pickle=False`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from core.config import Settings, get_settings
from core.errors import IndexLoadError, IndexWriteError, InvalidInputError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
METADATA_FILE = "metadata.jsonl"
THUMBNAILS = "thumbnails"
PARTIAL = ".partial"
LOCK = ".lock"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VERSION = re.compile(r"^v(\d+)$")
_THUMBNAIL = re.compile(r"^[0-9a-f]{32}\.jpg$")

Kind = Literal["image", "text"]


# --------------------------------------------------------------------------------------------------
# Manifest


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` records about an index. Readers check it before trusting any file.

    Attributes:
        name: Index name (its folder name).
        kind: "image" or "text": what the rows are.
        model_key: Registry key of the model that embedded the rows.
        model_id: Checkpoint(s) actually loaded (`Encoder.model_id`).
        dim: Embedding dimension.
        metric: Always "cosine": inner product of L2-normalised float32 vectors.
        count: Number of rows.
        index_type: "flat" (exact), "hnsw" or "ivf" (approximate).
        index_params: Parameters of the FAISS index (HNSW: M, ef_construction, ef_search, measured
            recall@10); for "flat", why an approximate index was not used, if one was considered.
        exact_threshold: Largest count that was to be searched exactly when it was built.
        source: Where the rows came from (folder, dataset or file), enough to rebuild it.
        language: Language code texts were embedded with (NLLB-CLIP text indexes), else None.
        created: ISO time of the first build; updated: of the last.
        version: Number of the version folder (`v<version>/`) holding the data files.
        files: {relative path: {"sha256", "bytes"}} of the data files, verified on load.
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
    index_type: str
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
    metric: str = "cosine"
    format_version: int = FORMAT_VERSION

    @property
    def data_dir(self) -> str:
        return f"v{self.version}"

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
            "name": str, "kind": str, "model_key": str, "model_id": str, "dim": int, "count": int,
            "index_type": str, "index_params": dict, "exact_threshold": int, "source": dict,
            "created": str, "updated": str, "version": int, "files": dict,
        }  # fmt: skip
        problems = [key for key, kind in types.items() if not isinstance(data.get(key), kind)]
        if problems:
            raise IndexLoadError(f"{where} lacks valid fields: {', '.join(problems)}.")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------
# Locations


def index_root(settings: Settings | None = None) -> Path:
    """The folder holding every index (`SIGLIP_PROJECTS_INDEX_DIR`, default `./indexes`), absolute."""
    return Path((settings or get_settings()).index_dir).expanduser().resolve()


def check_name(name: str) -> str:
    """Return `name` if it is a valid index name (a plain folder name).

    Raises:
        InvalidInputError: empty, too long, or with characters other than letters, digits, `.`, `_`, `-`.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"'{name}' is not a valid index name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. wikiart-siglip)."
        )
    return name


def index_path(name: str, settings: Settings | None = None) -> Path:
    """Absolute folder of index `name` (it may not exist yet).

    Raises:
        InvalidInputError: `name` is not a valid index name.
    """
    return index_root(settings) / check_name(name)


# --------------------------------------------------------------------------------------------------
# Writing safely


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing under `path` into an IndexWriteError that says what to do."""
    try:
        yield
    except OSError as error:
        raise IndexWriteError(describe_write_error(error, path)) from error


def describe_write_error(error: OSError, path: Path) -> str:
    where = error.filename or path
    if error.errno == errno.ENOSPC or error.errno == errno.EDQUOT:
        free = _free_bytes(path)
        room = f" ({free / 1e6:.0f} MB free)" if free is not None else ""
        return (
            f"The disk is full{room}: could not write {where}. Free some space, or build the index "
            "on another disk with --index-dir PATH (or SIGLIP_PROJECTS_INDEX_DIR); re-running the "
            "same command resumes the build."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Cannot write to {where} ({error.strerror}). Choose a writable folder with --index-dir PATH "
            "(or SIGLIP_PROJECTS_INDEX_DIR)."
        )
    return (
        f"Could not write {where}: {error.strerror or error}. Check that the index folder is a writable "
        "directory, or choose another with --index-dir PATH (or SIGLIP_PROJECTS_INDEX_DIR)."
    )


def _free_bytes(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(candidate).free
    return None


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through `write(temporary_path)`, fsync it, then rename it into place.

    A reader (or a crash) sees the old file or the complete new one, never a part.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def thumbnails_record(names: Iterable[str], folder: Path | None = None) -> dict[str, Any]:
    """Checksum of the thumbnail set: each file is named by its own sha256, so the sorted names suffice.
    With `folder` (the index folder), their total size is recorded too."""
    unique = sorted(set(names))
    digest = hashlib.sha256("\n".join(unique).encode()).hexdigest()
    record: dict[str, Any] = {"folder": THUMBNAILS, "count": len(unique), "names_sha256": digest}
    if folder is not None:
        record["bytes"] = sum((folder / THUMBNAILS / name).stat().st_size for name in unique)
    return record


def thumbnail_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32] + ".jpg"


def is_thumbnail_name(name: str) -> bool:
    return bool(_THUMBNAIL.match(name))


def write_thumbnail(folder: Path, data: bytes) -> str:
    """Store JPEG bytes under their generated name; return the path relative to the index folder."""
    name = thumbnail_name(data)
    path = folder / THUMBNAILS / name
    if not path.exists():
        atomic_write_bytes(path, data)
    return f"{THUMBNAILS}/{name}"


def jsonable(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN/inf as None, anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return jsonable(item())
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def metadata_lines(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n" for row in rows)


# --------------------------------------------------------------------------------------------------
# The build lock


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold `<folder>/.lock` for the duration of a build; the OS releases it if the process dies.

    Raises:
        IndexWriteError: the folder cannot be created, or another build of this index is running.
    """
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK, "a+")  # noqa: SIM115 - held open for the whole build
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; concurrent builds of one index are on the user
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise IndexWriteError(
                    f"Another build of index '{folder.name}' is running (it holds {folder / LOCK}). "
                    "Wait for it to finish, or stop it; an interrupted build resumes when re-run."
                ) from None
        yield
    finally:
        handle.close()


# --------------------------------------------------------------------------------------------------
# Reading


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
        raise IndexLoadError(f"Cannot read {path}: {error}. {rebuild_hint(folder.name)}") from None
    return Manifest.from_json(text, path)


def missing_message(folder: Path) -> str:
    name = folder.name
    if (folder / PARTIAL).is_dir():
        batches = len(list((folder / PARTIAL).glob("batch-*.json")))
        return (
            f"Index '{name}' has not finished building ({batches} finished batches are kept in "
            f"{folder / PARTIAL}). Re-run the same `python app.py index build {name} ...` command to "
            "resume it."
        )
    root = folder.parent
    others = sorted(path.parent.name for path in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []
    found = f" Indexes there: {', '.join(others)}." if others else ""
    return (
        f"No index named '{name}' in {root}.{found} Build one with `python app.py index build {name} "
        "--folder PATH` (or `--dataset NAME`, `--texts FILE`), or point --index-dir / "
        "SIGLIP_PROJECTS_INDEX_DIR at the folder that holds it."
    )


def rebuild_hint(name: str, manifest: Manifest | None = None) -> str:
    """How to rebuild index `name`, as specific as its manifest allows."""
    return f"Rebuild it with `{rebuild_command(name, manifest)}`."


def rebuild_command(name: str, manifest: Manifest | None = None, model_key: str | None = None) -> str:
    """The `index build` command that rebuilds index `name` from its manifest's source."""
    source = manifest.source if manifest else {}
    parts = ["python app.py index build", name]
    kind = source.get("type")
    if kind == "folder":
        parts += ["--folder", _quote(source.get("path", "PATH"))]
    elif kind == "dataset":
        parts += ["--dataset", _quote(source.get("name", "NAME")), "--split", source.get("split", "train")]
        if source.get("config"):
            parts += ["--config", source["config"]]
        column = source.get("text_column") or source.get("image_column")
        parts += ["--text-column" if source.get("text_column") else "--image-column", column or "image"]
        if source.get("limit"):
            parts += ["--limit", str(source["limit"])]
    elif kind == "file":
        parts += ["--texts", _quote(source.get("path", "FILE"))]
        if source.get("text_column"):
            parts += ["--text-column", source["text_column"]]
    else:
        parts += ["--folder PATH"]
    if model_key or manifest:
        parts += ["--model-key", model_key or manifest.model_key]  # type: ignore[union-attr]
    return " ".join([*parts, "--rebuild"])


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(str(text))


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Check each data file named by the manifest against its size and sha256.

    Raises:
        IndexLoadError: a file is missing or differs; the message says how to rebuild.
    """
    if not manifest.files:
        raise IndexLoadError(
            f"Index '{folder.name}' lists no data files. {rebuild_hint(folder.name, manifest)}"
        )
    for relative, record in manifest.files.items():
        path = folder / relative
        if not _inside(path, folder):
            raise IndexLoadError(f"Index '{folder.name}' names a file outside its folder: {relative}.")
        try:
            size = path.stat().st_size
            ok = size == record.get("bytes") and sha256_file(path) == record.get("sha256")
        except OSError:
            raise IndexLoadError(
                f"Index '{folder.name}' is damaged: {relative} is missing. "
                + rebuild_hint(folder.name, manifest)
            ) from None
        if not ok:
            raise IndexLoadError(
                f"Index '{folder.name}' is damaged: {relative} does not match the checksum in its manifest. "
                + rebuild_hint(folder.name, manifest)
            )


def verify_thumbnails(folder: Path, manifest: Manifest, referenced: Iterable[str]) -> list[str]:
    """Problems with the thumbnails: missing, or content not matching the sha256 in the file name."""
    problems = []
    names = []
    for relative in referenced:
        path = folder / relative
        name = Path(relative).name
        names.append(name)
        if not is_thumbnail_name(name) or not _inside(path, folder / THUMBNAILS):
            problems.append(f"{relative}: not a generated thumbnail name")
        elif not path.is_file():
            problems.append(f"{relative}: missing")
        elif thumbnail_name(path.read_bytes()) != name:
            problems.append(f"{relative}: content does not match its name")
    if manifest.thumbnails and thumbnails_record(names)["names_sha256"] != manifest.thumbnails.get(
        "names_sha256"
    ):
        problems.append("the set of thumbnails differs from the manifest")
    return problems


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def manifest_size(folder: Path, manifest: Manifest) -> int:
    """Size of an index as its manifest records it (no folder walk), or measured if it does not."""
    if "bytes" not in manifest.thumbnails and manifest.kind == "image":
        return size_on_disk(folder)
    recorded = sum(int(record.get("bytes", 0)) for record in manifest.files.values())
    return recorded + int(manifest.thumbnails.get("bytes", 0)) + len(manifest.to_json().encode())


def size_on_disk(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


# --------------------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True)
class IndexInfo:
    """One index of the index folder, as its manifest describes it (nothing is loaded or verified).

    Attributes:
        name, path: Index name and absolute folder.
        kind: "image" or "text".
        model_key, model_id, dim: The model it was built with.
        count: Number of items.
        index_type: "flat" (exact), "hnsw" or "ivf" (approximate).
        source: Where the items came from.
        created, updated: ISO times.
        size_bytes: Size of the folder on disk.
    """

    name: str
    path: Path
    kind: str
    model_key: str
    model_id: str
    dim: int
    count: int
    index_type: str
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


def list_indexes(settings: Settings | None = None, kind: Kind | None = None) -> list[IndexInfo]:
    """Every finished index in the index folder, sorted by name.

    Folders without a readable manifest (unfinished or damaged builds) are left out; `index info` on
    their name says what is wrong.

    Args:
        settings: Where the indexes are (`index_dir`); default: the process settings.
        kind: Only "image" or only "text" indexes; default: both.

    Returns:
        One IndexInfo per index, from its manifest (nothing is loaded or verified).
    """
    return [IndexInfo.from_manifest(folder, manifest) for folder, manifest in iter_manifests(settings, kind)]


def iter_manifests(
    settings: Settings | None = None, kind: Kind | None = None
) -> Iterator[tuple[Path, Manifest]]:
    """(folder, manifest) of every finished index in the index folder, sorted by name.

    Folders without a readable manifest (unfinished or damaged builds) are left out with a log line.
    """
    root = index_root(settings)
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or not _NAME.match(folder.name) or not (folder / MANIFEST).is_file():
            continue
        try:
            manifest = read_manifest(folder)
        except IndexLoadError as error:
            log.warning("Skipping index folder %s: %s", folder, error)
            continue
        if kind is None or manifest.kind == kind:
            yield folder, manifest


# --------------------------------------------------------------------------------------------------
# Housekeeping


def current_version(folder: Path) -> int:
    """The version the manifest names (0 when there is no readable manifest)."""
    try:
        return read_manifest(folder).version
    except IndexLoadError:
        return 0


def next_version(folder: Path) -> int:
    """A version number above every version folder present, finished or not."""
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name))]
    return max([current_version(folder), *numbers], default=0) + 1


def remove_stale(folder: Path, keep_version: int, keep_thumbnails: set[str] | None) -> None:
    """Delete version folders other than `keep_version`, temporary files and, when
    `keep_thumbnails` is given, every thumbnail not in it. Best effort: a failure only logs."""
    for path in folder.iterdir():
        match = _VERSION.match(path.name)
        try:
            if match and int(match.group(1)) != keep_version:
                shutil.rmtree(path)
            elif path.name.startswith(f".{MANIFEST}.") and path.name.endswith(".tmp"):
                path.unlink()
        except OSError as error:
            log.warning("Could not remove %s: %s", path, error)
    thumbnails = folder / THUMBNAILS
    if keep_thumbnails is None or not thumbnails.is_dir():
        return
    for path in thumbnails.iterdir():
        if f"{THUMBNAILS}/{path.name}" not in keep_thumbnails:
            with contextlib.suppress(OSError):
                path.unlink()
