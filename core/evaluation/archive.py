"""Unpacking an uploaded zip safely: the archive is untrusted.

Everything is checked from the zip's directory before a byte is written: entries with an absolute path
or `..`, symbolic links and encrypted entries are refused, and so are more entries or images than a run
takes, a total unpacked size over the limit, and any entry compressed more than `MAX_RATIO`:1 (zip
bombs). While unpacking, bytes are counted again, so a header that lies cannot write more than it
declared. Hidden files and macOS `__MACOSX/` folders are left out.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.config import Settings
from core.errors import InvalidInputError
from core.images import IMAGE_EXTENSIONS

#: Largest compression ratio of an entry over `RATIO_FLOOR` bytes (photos compress about 1:1, text ~5:1).
MAX_RATIO = 100
RATIO_FLOOR = 1_000_000
#: The unpacked total may be this many times the largest upload.
UNPACKED_FACTOR = 5
#: Entries allowed besides the images (folders, a captions file, notes).
EXTRA_ENTRIES = 1000
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """What one zip may hold. Build it from the settings with `ZipLimits.from_settings`."""

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


def extract_zip(path: str | Path, destination: Path, limits: ZipLimits) -> Path:
    """Unpack the zip at `path` into the new folder `destination`; return the data's root folder.

    The root is `destination`, or its one top folder when the zip holds a single folder of class
    folders or captions (what zipping a folder gives).

    Raises:
        InvalidInputError: not a zip, damaged, or refused by one of the checks above.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = _checked_members(archive, limits)
            destination.mkdir(parents=True, exist_ok=False)
            for info, parts in members:
                _unpack(archive, info, destination.joinpath(*parts))
    except zipfile.BadZipFile as error:
        raise InvalidInputError(
            f"The upload is not a readable zip file ({error}). Zip the folder again and upload the .zip."
        ) from None
    except (OSError, EOFError) as error:  # a name clash (file and folder), a damaged stream
        raise InvalidInputError(f"The zip could not be unpacked ({type(error).__name__}: {error}).") from None
    return data_root(destination)


def _checked_members(archive: zipfile.ZipFile, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, tuple]]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise InvalidInputError(
            f"The zip holds {len(infos):,} entries; at most {limits.max_entries:,} are accepted. "
            "Zip only the image folders (or a sample of them)."
        )
    members, total, images = [], 0, 0
    for info in infos:
        parts = safe_parts(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInputError(
                f"The zip holds a symbolic link ('{info.filename}'); links are refused. "
                "Zip the files themselves."
            )
        if info.flag_bits & 0x1:
            raise InvalidInputError(
                f"The zip entry '{info.filename}' is encrypted; use a zip without a password."
            )
        if info.is_dir() or not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InvalidInputError(
                f"The zip entry '{info.filename}' unpacks to {info.file_size / 1e6:,.0f} MB from "
                f"{info.compress_size / 1e6:,.2f} MB (over {MAX_RATIO}:1): refused as a zip bomb."
            )
        total += info.file_size
        images += PurePosixPath(parts[-1]).suffix.lower() in IMAGE_EXTENSIONS
        members.append((info, parts))
    if total > limits.max_unpacked_bytes:
        raise InvalidInputError(
            f"The zip unpacks to {total / 1e6:,.0f} MB; at most {limits.max_unpacked_bytes / 1e6:,.0f} MB "
            "are accepted. Upload smaller images or fewer of them."
        )
    if images > limits.max_images:
        raise InvalidInputError(too_many_images(images, limits.max_images))
    return members


def too_many_images(count: int, most: int) -> str:
    return (
        f"The upload holds {count:,} images; one run evaluates at most {most:,} "
        "(SIGLIP_PROJECTS_EVAL_MAX_IMAGES). Upload a sample, or run `python app.py eval` on your "
        "own machine, which has no limit."
    )


def safe_parts(name: str) -> tuple[str, ...]:
    """The path components of a zip entry name, refusing any that could leave the folder.

    Raises:
        InvalidInputError: an absolute path, a drive letter or a `..` component.
    """
    unified = name.replace("\\", "/")
    parts = tuple(part for part in unified.split("/") if part not in ("", "."))
    if unified.startswith("/") or _DRIVE.match(unified) or ".." in parts:
        raise InvalidInputError(
            f"The zip holds an entry outside its own folder ('{name}'): paths with '..' or a leading "
            "'/' are refused. Zip the folder itself again (e.g. `zip -r data.zip my_folder`)."
        )
    return parts


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as source, open(target, "xb") as sink:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:  # zipfile stops at the declared size; this is the backstop
                raise InvalidInputError(f"The zip entry '{info.filename}' is larger than its header says.")
            sink.write(chunk)


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
