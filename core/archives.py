"""Reading an uploaded zip safely: the archive is untrusted.

Everything is checked from the zip's directory before a byte is read: entries with an absolute path or
`..`, symbolic links and encrypted entries are refused, and so are more entries than allowed, a total
unpacked size over the limit, and any entry compressed more than `MAX_RATIO`:1 (zip bombs). While
reading, bytes are counted again, so a header that lies cannot deliver more than it declared. Hidden
files and macOS `__MACOSX/` folders are left out.

One module for every upload of the app: the "Your images" collections read members straight from
the zip (`checked_members`, `read_member`), and anything that needs files on disk can `extract_zip`.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInputError
from core.limits import quote_path

#: Largest compression ratio of an entry over `RATIO_FLOOR` bytes (photos compress about 1:1, text ~5:1).
MAX_RATIO = 100
RATIO_FLOOR = 1_000_000
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """What one zip may hold.

    Attributes:
        max_entries: Most entries in its directory (folders and skipped files included).
        max_unpacked_bytes: Most bytes of all kept entries together, unpacked.
        max_entry_bytes: Most bytes of one entry, unpacked.
    """

    max_entries: int
    max_unpacked_bytes: int
    max_entry_bytes: int


@dataclass(frozen=True)
class Member:
    """A kept entry of a checked zip: its directory record and its path components."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]

    @property
    def path(self) -> str:
        """Its path inside the zip, with `/` separators."""
        return "/".join(self.parts)


def open_zip(path: str | Path, label: str = "The zip") -> zipfile.ZipFile:
    """Open an uploaded zip file.

    Raises:
        InvalidInputError: not a readable zip file.
    """
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise InvalidInputError(
            f"{label} is not a readable zip file ({error}). Zip the folder again and upload the .zip."
        ) from None


def checked_members(archive: zipfile.ZipFile, limits: ZipLimits, label: str = "The zip") -> list[Member]:
    """The files of `archive` worth reading (no folders, hidden files or `__MACOSX/`), all checked.

    Raises:
        InvalidInputError: too many entries, an entry outside the zip's folder, a link, an encrypted
            entry, a zip bomb, or too many bytes in all; the message says which and what to do.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise InvalidInputError(
            f"{label} holds {len(infos):,} entries; at most {limits.max_entries:,} are accepted. "
            "Zip fewer files, or upload them in several parts."
        )
    members, total = [], 0
    for info in infos:
        parts = safe_parts(info.filename, label)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInputError(
                f"{label} holds a symbolic link ({quote_path(info.filename)}); links are refused. "
                "Zip the files themselves."
            )
        if info.flag_bits & 0x1:
            raise InvalidInputError(
                f"{label} entry {quote_path(info.filename)} is encrypted; use a zip without a password."
            )
        if info.is_dir() or not parts or any(part.startswith(".") or part == "__MACOSX" for part in parts):
            continue
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InvalidInputError(
                f"{label} entry {quote_path(info.filename)} unpacks to {info.file_size / 1e6:,.0f} MB from "
                f"{info.compress_size / 1e6:,.2f} MB (over {MAX_RATIO}:1): refused as a zip bomb."
            )
        total += info.file_size
        members.append(Member(info, parts))
    if total > limits.max_unpacked_bytes:
        raise InvalidInputError(
            f"{label} unpacks to {total / 1e6:,.1f} MB; at most {limits.max_unpacked_bytes / 1e6:,.1f} MB "
            "are accepted. Upload smaller images or fewer of them."
        )
    return members


def safe_parts(name: str, label: str = "The zip") -> tuple[str, ...]:
    """The path components of a zip entry name, refusing any that could leave the folder.

    Raises:
        InvalidInputError: an absolute path, a drive letter or a `..` component.
    """
    unified = name.replace("\\", "/")
    parts = tuple(part for part in unified.split("/") if part not in ("", "."))
    if unified.startswith("/") or _DRIVE.match(unified) or ".." in parts:
        raise InvalidInputError(
            f"{label} holds an entry outside its own folder ({quote_path(name)}): paths with '..' or a "
            "leading '/' are refused. Zip the folder itself again (e.g. `zip -r photos.zip my_folder`)."
        )
    return parts


def read_member(archive: zipfile.ZipFile, member: Member, limits: ZipLimits) -> bytes:
    """The unpacked bytes of a checked member, never more than it declared or `max_entry_bytes`.

    Raises:
        InvalidInputError: the entry is over the size limit, larger than its header says, or damaged.
    """
    info = member.info
    if info.file_size > limits.max_entry_bytes:
        raise InvalidInputError(
            f"{quote_path(member.path)} is {info.file_size / 1e6:,.0f} MB, over the limit of "
            f"{limits.max_entry_bytes / 1e6:,.0f} MB per file."
        )
    return b"".join(_chunks(archive, member))


def _chunks(archive: zipfile.ZipFile, member: Member) -> Iterator[bytes]:
    read = 0
    try:
        with archive.open(member.info) as source:
            while chunk := source.read(CHUNK):
                read += len(chunk)
                if read > member.info.file_size:  # zipfile stops at the declared size; the backstop
                    raise InvalidInputError(
                        f"The zip entry {quote_path(member.path)} is larger than its header says."
                    )
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
        raise InvalidInputError(f"The zip entry {quote_path(member.path)} is damaged ({error}).") from None


def extract_zip(
    path: str | Path,
    destination: Path,
    limits: ZipLimits,
    label: str = "The zip",
    check: Callable[[list[Member]], None] | None = None,
) -> list[Path]:
    """Unpack the checked members of the zip at `path` into the new folder `destination`.

    Args:
        check: Called with the checked members before anything is written (a caller's own limits);
            it raises to refuse the zip.

    Returns:
        The paths written, in the zip's order.

    Raises:
        InvalidInputError: as `open_zip`, `checked_members` and `read_member`, or a name clash.
    """
    written = []
    with open_zip(path, label) as archive:
        members = checked_members(archive, limits, label)
        if check is not None:
            check(members)
        destination.mkdir(parents=True, exist_ok=False)
        for member in members:
            target = destination.joinpath(*member.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as sink:
                    for chunk in _chunks(archive, member):
                        sink.write(chunk)
            except OSError as error:  # a file and a folder of one name, two entries of one name
                message = f"{label} could not be unpacked ({error.strerror}: {member.path})."
                raise InvalidInputError(message) from None
            written.append(target)
    return written
