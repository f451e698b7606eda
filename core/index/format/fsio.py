"""Writing files safely: atomic replacement, fsync, checksums, and full-disk / read-only errors that say
what to do."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from core.errors import IndexWriteError
from core.index import hints


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing under `path` into an IndexWriteError that says what to do."""
    try:
        yield
    except OSError as error:
        raise IndexWriteError(write_error_message(error, path)) from error


def write_error_message(error: OSError, path: Path) -> str:
    """What went wrong writing under `path`, and the way out."""
    where = error.filename or path
    if error.errno == errno.ENOSPC or error.errno == errno.EDQUOT:
        free = _free_bytes(path)
        room = f" ({free / 1e6:.0f} MB free)" if free is not None else ""
        return f"The disk is full{room}: could not write {where}. {hints.disk_full_hint()}"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"Cannot write to {where} ({error.strerror}). {hints.writable_hint()}"
    return (
        f"Could not write {where}: {error.strerror or error}. Check that the index folder is a writable "
        f"directory, or choose another with {hints.INDEX_DIR}."
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


def is_temporary(path: Path) -> bool:
    """A file `atomic_write` left behind when it was killed before its rename."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: Data files up to this size are hashed whole on every load (sha256 reads ~1.3 GB/s here); larger
#: ones are checked by size and by `sample_sha256`, and hashed whole by `index info --verify`.
FULL_VERIFY_BYTES = 512 * 2**20
#: Blocks read by `sample_sha256`: evenly spaced, the first and the last included.
SAMPLE_BLOCKS = 64
SAMPLE_BLOCK_BYTES = 2**20


def sample_sha256(path: Path) -> str:
    """sha256 of a file's size and of `SAMPLE_BLOCKS` evenly spaced 1 MiB blocks (64 MiB read, not GBs):
    it tells a truncated, replaced or partly rewritten file from the one committed, in milliseconds."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        for n in range(SAMPLE_BLOCKS):
            handle.seek(n * max(0, size - SAMPLE_BLOCK_BYTES) // (SAMPLE_BLOCKS - 1))
            digest.update(handle.read(SAMPLE_BLOCK_BYTES))
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """What a manifest records of a data file: its sha256 and size, and above `FULL_VERIFY_BYTES`
    the `sample_sha256` that loads check."""
    record: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if record["bytes"] > FULL_VERIFY_BYTES:
        record["sample_sha256"] = sample_sha256(path)
    return record


def size_on_disk(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


def inside(path: Path, folder: Path) -> bool:
    """True when `path` (links resolved) lies under `folder`."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
