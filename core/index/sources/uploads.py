"""Images uploaded in the app: image files and zips of them, read without unpacking anything to disk.

`scan_upload` checks an upload before anything is built (counts, sizes, zip bombs, `../` entries) and
lists what it holds; `UploadSource` then reads it. Each image is keyed by the sha256 of its bytes, so
adding images to a collection embeds only those it does not hold yet (the same photo uploaded twice is
one item). A `metadata.jsonl` or `metadata.csv` with a `file_name` column (the Hugging Face ImageFolder
convention), uploaded beside the images or at the top of a zip, adds its columns to each image.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from core.archives import Member, ZipLimits, checked_members, open_zip, read_member, safe_parts
from core.errors import InvalidInputError
from core.images import IMAGE_EXTENSIONS, MAX_IMAGE_BYTES
from core.index.format.layout import Kind
from core.index.format.loaded import LoadedIndex
from core.index.sources.base import Item, Source, scalars
from core.index.sources.folder import SIDECAR_FILES
from core.tables import parse_table

#: Entries a zip may hold besides its images (folders, notes, a metadata file).
EXTRA_ZIP_ENTRIES = 1000
#: Largest metadata.csv / metadata.jsonl of an upload (each value is then bounded by `sources.base`).
MAX_SIDECAR_BYTES = 10_000_000
KEY_PREFIX = "upload:"


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold: images (zip members included) and bytes (zips counted unpacked)."""

    max_files: int
    max_bytes: int

    def zip_limits(self) -> ZipLimits:
        return ZipLimits(self.max_files + EXTRA_ZIP_ENTRIES, self.max_bytes, MAX_IMAGE_BYTES)


@dataclass(frozen=True)
class UploadEntry:
    """One image of an upload: how it is named, the file it is in, and its path inside a zip."""

    label: str
    file: str
    member: str | None = None


@dataclass(frozen=True)
class Upload:
    """What an upload holds: its images, the files left out (with why), and sidecar metadata."""

    entries: tuple[UploadEntry, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


def scan_upload(files: Sequence[str | Path], limits: UploadLimits) -> Upload:
    """List and check the images of an upload (image files and zips) without decoding any.

    Raises:
        InvalidInputError: nothing uploaded, more images or bytes than `limits` allow, or a zip that
            is unreadable or refused (see `core.archives`); the message says what to do.
    """
    if not files:
        raise InvalidInputError("No files uploaded. Choose images (JPEG, PNG, WebP...) or a .zip of them.")
    entries: list[UploadEntry] = []
    skipped: list[tuple[str, str]] = []
    metadata: dict[str, dict[str, Any]] = {}
    total = 0
    for file in map(Path, files):
        suffix = file.suffix.lower()
        if suffix == ".zip":
            total += _scan_zip(file, limits, entries, skipped, metadata)
        elif suffix in IMAGE_EXTENSIONS:
            entries.append(UploadEntry(file.name, str(file)))
            total += _size(file)
        elif file.name in SIDECAR_FILES:
            metadata.update(_sidecar(file.name, _sidecar_bytes(file), ""))
        else:
            skipped.append((file.name, "not an image or a .zip"))
        _check_limits(len(entries), total, limits)
    if not entries:
        found = f" ({', '.join(name for name, _ in skipped[:3])})" if skipped else ""
        raise InvalidInputError(
            f"The upload holds no images{found}. Upload JPEG, PNG, WebP, GIF, BMP or TIFF files, or a "
            ".zip of them."
        )
    return Upload(tuple(entries), tuple(skipped), metadata)


def _scan_zip(
    file: Path,
    limits: UploadLimits,
    entries: list[UploadEntry],
    skipped: list[tuple[str, str]],
    metadata: dict[str, dict[str, Any]],
) -> int:
    label = f"The zip '{file.name}'"
    with open_zip(file, label) as archive:
        members = checked_members(archive, limits.zip_limits(), label)
        root = _top_folder(members)
        for member in members:
            relative = "/".join(member.parts[len(root) :])
            name = PurePosixPath(relative)
            if name.suffix.lower() in IMAGE_EXTENSIONS:
                entries.append(UploadEntry(relative, str(file), member.info.filename))
            elif name.name in SIDECAR_FILES:
                sidecar = ZipLimits(limits.zip_limits().max_entries, MAX_SIDECAR_BYTES, MAX_SIDECAR_BYTES)
                data = read_member(archive, member, sidecar)
                folder = "" if name.parent == PurePosixPath(".") else str(name.parent)
                metadata.update(_sidecar(name.name, data, folder))
            else:
                skipped.append((f"{file.name}/{member.path}", "not an image"))
    return sum(member.info.file_size for member in members)


def _top_folder(members: Sequence[Member]) -> tuple[str, ...]:
    """The one folder every member is in (what zipping a folder gives), else nothing."""
    tops = {member.parts[0] for member in members}
    if len(tops) == 1 and all(len(member.parts) > 1 for member in members):
        return (next(iter(tops)),)
    return ()


def _sidecar(name: str, data: bytes, folder: str) -> dict[str, dict[str, Any]]:
    rows = parse_table(data.decode("utf-8-sig", errors="replace"), name)
    if rows and "file_name" not in rows[0]:
        raise InvalidInputError(f"{name} has no 'file_name' column naming the image of each row.")
    prefix = f"{folder}/" if folder else ""
    return {
        prefix + PurePosixPath(str(row["file_name"])).as_posix(): scalars(row, exclude={"file_name"})
        for row in rows
        if row.get("file_name")
    }


def _sidecar_bytes(file: Path) -> bytes:
    if _size(file) > MAX_SIDECAR_BYTES:
        raise InvalidInputError(
            f"{file.name} is over {MAX_SIDECAR_BYTES / 1e6:.0f} MB: a metadata file names each image with a "
            "few fields. Leave out what is not needed."
        )
    return file.read_bytes()


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        raise InvalidInputError(f"'{file.name}' did not reach the server. Upload it again.") from None


def _check_limits(count: int, total: int, limits: UploadLimits) -> None:
    if count > limits.max_files:
        raise InvalidInputError(
            f"The upload holds more than {limits.max_files:,} images, the most one upload takes "
            "(SIGLIP_PROJECTS_UPLOAD_MAX_FILES). Upload them in several parts."
        )
    if total > limits.max_bytes:
        raise InvalidInputError(
            f"The upload is {total / 1e6:,.1f} MB (zips counted unpacked), over the limit of "
            f"{limits.max_bytes / 1e6:,.1f} MB (SIGLIP_PROJECTS_UPLOAD_MAX_MB). Upload it in several parts."
        )


class UploadSource(Source):
    """The images of a checked upload, after the items `existing` (the collection) already holds.

    Items that fail to read are left out and listed in `unreadable`; images the collection (or the
    upload) already holds are left out and listed in `duplicates`.
    """

    kind = Kind.IMAGE

    def __init__(
        self, collection: str, upload: Upload, limits: UploadLimits, existing: LoadedIndex | None = None
    ) -> None:
        self.collection = collection
        self.upload = upload
        self.limits = limits
        self.existing = existing
        self.unreadable: list[tuple[str, str]] = []
        self.duplicates: list[str] = []

    def expected_count(self) -> int:
        return len(self.existing or ()) + len(self.upload.entries)

    def description(self) -> dict[str, Any]:
        return {"type": "upload", "collection": self.collection}

    def items(self) -> Iterator[Item]:
        seen: set[str] = set()
        for row in self.existing.rows if self.existing is not None else ():
            seen.add(row["_key"])
            public = {k: v for k, v in row.items() if not k.startswith("_")}
            yield Item(row["_key"], row.get("_signature", ""), str(row.get("path", row["_key"])), public)
        archives: dict[str, zipfile.ZipFile] = {}
        try:
            for entry in self.upload.entries:
                try:
                    data = self._read(entry, archives)
                except InvalidInputError as error:
                    self.unreadable.append((entry.label, str(error)))
                    continue
                key = KEY_PREFIX + hashlib.sha256(data).hexdigest()[:32]
                if key in seen:
                    self.duplicates.append(entry.label)
                    continue
                seen.add(key)
                yield Item(key, "", entry.label, self._metadata(entry), data=data)
        finally:
            for archive in archives.values():
                archive.close()

    def _read(self, entry: UploadEntry, archives: dict[str, zipfile.ZipFile]) -> bytes:
        if entry.member is None:
            try:
                if Path(entry.file).stat().st_size > MAX_IMAGE_BYTES:
                    raise InvalidInputError(f"over the limit of {MAX_IMAGE_BYTES / 1e6:.0f} MB per image")
                return Path(entry.file).read_bytes()
            except OSError as error:
                raise InvalidInputError(f"could not be read ({error.strerror})") from None
        if entry.file not in archives:
            archives[entry.file] = open_zip(entry.file)
        archive = archives[entry.file]
        member = Member(archive.getinfo(entry.member), safe_parts(entry.member))
        return read_member(archive, member, self.limits.zip_limits())

    def _metadata(self, entry: UploadEntry) -> dict[str, Any]:
        folder = str(PurePosixPath(entry.label).parent)
        extra = {"folder": folder} if folder not in ("", ".") else {}
        return {**extra, **self.upload.metadata.get(entry.label, {}), "path": entry.label}
