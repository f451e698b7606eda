"""Unpacking an uploaded zip for an evaluation: `core.archives` checks and unpacks it (the archive is
untrusted: `..` and absolute entries, links, encryption, bombs and oversized totals are refused from
its directory before a byte is written); this module adds what an evaluation run may take (entries,
images) and finds the data's root folder in what was unpacked.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core import archives
from core.config import Settings
from core.errors import InvalidInputError
from core.images import IMAGE_EXTENSIONS

#: The unpacked total may be this many times the largest upload.
UNPACKED_FACTOR = 5
#: Entries allowed besides the images (folders, a captions file, notes).
EXTRA_ENTRIES = 1000


@dataclass(frozen=True)
class ZipLimits:
    """What one evaluation zip may hold. Build it from the settings with `ZipLimits.from_settings`."""

    max_unpacked_bytes: int
    max_entries: int
    max_images: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
        return cls(
            max_unpacked_bytes=UNPACKED_FACTOR * settings.eval_max_upload_mb * 1_000_000,
            max_entries=settings.eval_max_images + settings.eval_max_classes + EXTRA_ENTRIES,
            max_images=settings.eval_max_images,
        )

    def archive_limits(self) -> archives.ZipLimits:
        """The limits of `core.archives` (one entry may take the whole unpacked budget)."""
        return archives.ZipLimits(self.max_entries, self.max_unpacked_bytes, self.max_unpacked_bytes)


def extract_zip(path: str | Path, destination: Path, limits: ZipLimits) -> Path:
    """Unpack the zip at `path` into the new folder `destination`; return the data's root folder.

    The root is `destination`, or its one top folder when the zip holds a single folder of class
    folders or captions (what zipping a folder gives).

    Raises:
        InvalidInputError: not a zip, damaged, more images than a run takes, or refused by one of the
            checks of `core.archives`.
    """

    def check(members: list[archives.Member]) -> None:
        images = sum(PurePosixPath(member.path).suffix.lower() in IMAGE_EXTENSIONS for member in members)
        if images > limits.max_images:
            raise InvalidInputError(too_many_images(images, limits.max_images))

    archives.extract_zip(path, destination, limits.archive_limits(), check=check)
    return data_root(destination)


def too_many_images(count: int, most: int) -> str:
    return (
        f"The upload holds {count:,} images; one run evaluates at most {most:,} "
        "(SIGLIP_PROJECTS_EVAL_MAX_IMAGES). Upload a sample, or run `python app.py eval` on your "
        "own machine, which has no limit."
    )


def data_root(folder: Path) -> Path:
    """`folder`, or its one visible sub-folder when that is all it holds and it holds folders or a
    captions file itself (a zipped folder), so `data.zip/photos/cat/1.jpg` reads like `cat/1.jpg`."""
    visible = [path for path in folder.iterdir() if not path.name.startswith(".") and path.name != "__MACOSX"]
    if len(visible) == 1 and visible[0].is_dir():
        inner = list(visible[0].iterdir())
        if any(path.is_dir() for path in inner) or any(path.name.startswith("metadata.") for path in inner):
            return visible[0]
    return folder


def remove(folder: Path) -> None:
    """Delete an unpacked upload (errors ignored: it lives in a temporary folder)."""
    shutil.rmtree(folder, ignore_errors=True)
