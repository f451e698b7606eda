"""Display thumbnails of image indexes: made once per image, named by the sha256 of their bytes.

A name that is its own checksum lets any reader verify a thumbnail without the manifest, lets two
versions of an index share unchanged thumbnails, and keeps a tampered index from pointing the app at
any file outside `thumbnails/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from core.index.format.fsio import atomic_write_bytes, inside
from core.index.format.layout import THUMBNAILS

#: Longer side of display thumbnails, in pixels.
THUMBNAIL_SIZE = 256
#: JPEG quality of the display thumbnails.
THUMBNAIL_QUALITY = 85
_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")


def make_thumbnail(image: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    """JPEG bytes of `image` shrunk to at most `size` pixels on its longer side."""
    thumbnail = image.copy()
    thumbnail.thumbnail((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumbnail.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def thumbnail_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32] + ".jpg"


def is_thumbnail_name(name: str) -> bool:
    return bool(_NAME.match(name))


def write_thumbnail(folder: Path, data: bytes) -> str:
    """Store JPEG bytes under their generated name in index `folder`; return the path relative to it."""
    name = thumbnail_name(data)
    path = folder / THUMBNAILS / name
    if not path.exists():
        atomic_write_bytes(path, data)
    return f"{THUMBNAILS}/{name}"


def thumbnail_path(folder: Path, relative: Any) -> Path | None:
    """Absolute path of a thumbnail named in an index's metadata; None unless it is a generated name in
    `thumbnails/` (so a path from a tampered index can never point elsewhere)."""
    if not isinstance(relative, str):
        return None
    parent, _, name = relative.partition("/")
    if parent != THUMBNAILS or not is_thumbnail_name(name):
        return None
    return folder / THUMBNAILS / name


def thumbnails_record(names: Iterable[str], folder: Path | None = None) -> dict[str, Any]:
    """Checksum of the thumbnail set: each file is named by its own sha256, so the sorted names suffice.
    With `folder` (the index folder), their total size is recorded too."""
    unique = sorted(set(names))
    digest = hashlib.sha256("\n".join(unique).encode()).hexdigest()
    record: dict[str, Any] = {"folder": THUMBNAILS, "count": len(unique), "names_sha256": digest}
    if folder is not None:
        record["bytes"] = sum((folder / THUMBNAILS / name).stat().st_size for name in unique)
    return record


def verify_thumbnails(folder: Path, recorded: dict[str, Any], referenced: Iterable[str]) -> list[str]:
    """Problems with the thumbnails the rows reference: missing, misnamed, content not matching the
    sha256 in the name, or a set that differs from the manifest's record."""
    problems = []
    names = []
    for relative in referenced:
        path = folder / relative
        name = Path(relative).name
        names.append(name)
        if not is_thumbnail_name(name) or not inside(path, folder / THUMBNAILS):
            problems.append(f"{relative}: not a generated thumbnail name")
        elif not path.is_file():
            problems.append(f"{relative}: missing")
        elif thumbnail_name(path.read_bytes()) != name:
            problems.append(f"{relative}: content does not match its name")
    if recorded and thumbnails_record(names)["names_sha256"] != recorded.get("names_sha256"):
        problems.append("the set of thumbnails differs from the manifest")
    return problems


def remove_unused(folder: Path, keep: set[str]) -> None:
    """Delete every thumbnail of index `folder` not in `keep` (relative paths). Best effort."""
    thumbnails = folder / THUMBNAILS
    if not thumbnails.is_dir():
        return
    for path in thumbnails.iterdir():
        if f"{THUMBNAILS}/{path.name}" not in keep:
            with contextlib.suppress(OSError):
                path.unlink()
