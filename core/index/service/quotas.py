"""Quotas and budgets of the app's collections, so that one visitor cannot take the app from the others.

Per owner (`core.index.format.access`): collections kept, images and bytes on disk in all of them, and
builds in flight. For the app: collections kept, builds in flight, and the disk budget of the index
folder. Every number is a setting (`core.config.Settings`), and a build in flight counts from the
moment its name is taken. `admitting` makes a check and the start it allows one step, so two requests
at once cannot both pass a check that only one of them fits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from core.errors import InvalidInputError
from core.index.format.access import Caller, read_access
from core.index.format.catalog import IndexInfo, catalog
from core.index.format.fsio import size_on_disk
from core.index.format.layout import NAME_PATTERN, index_root
from core.index.service.jobs import jobs

#: Bytes one image of a collection takes on disk (a JPEG thumbnail of at most 256 px, its vector and
#: its metadata row, about 10-20 KB), counted high for the checks made before a build.
BYTES_PER_IMAGE = 30_000
#: A check and the build it lets start, one at a time.
admitting = threading.Lock()


@dataclass
class Usage:
    """Collections (builds in flight included), their images and bytes, and builds in flight."""

    collections: int = 0
    images: int = 0
    bytes: int = 0
    building: int = 0

    def add(self, entry: IndexInfo | None, size: int, building: bool) -> None:
        self.collections += 1
        self.images += entry.count if entry is not None else 0
        self.bytes += size
        self.building += int(building)


def usage(caller: Caller, settings: Settings) -> tuple[Usage, Usage, int]:
    """(the caller's collections, every collection, bytes of the whole index folder)."""
    root = index_root(settings)
    finished = {entry.name: entry for entry in catalog(settings).entries()}
    mine, everyone, disk = Usage(), Usage(), 0
    for folder in _folders(root):
        entry = finished.get(folder.name)
        size = entry.size_bytes if entry is not None else size_on_disk(folder)
        disk += size
        access = read_access(folder)
        if access is None:
            continue
        building = entry is None or jobs.running(folder.name)
        everyone.add(entry, size, building)
        if caller.owner is not None and access.owner == caller.owner:
            mine.add(entry, size, building)
    return mine, everyone, disk


def _folders(root: Path) -> list[Path]:
    """Every index folder, finished or not (a first build in flight, or one a crash left)."""
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if path.is_dir() and NAME_PATTERN.match(path.name))


def check_quotas(caller: Caller, images: int, settings: Settings, *, new: bool) -> None:
    """Refuse a build of `images` more images for `caller` (a new collection when `new`) that would go
    over a quota or a budget; the message says which, and when to try again.

    Raises:
        InvalidInputError: over a quota of the caller's or a budget of the app's.
    """
    mine, everyone, disk = usage(caller, settings)
    if everyone.building >= settings.builds_in_flight:
        raise InvalidInputError(
            f"The app is building {everyone.building} collections already, the most it takes at once "
            "(SIGLIP_PROJECTS_BUILDS_IN_FLIGHT). Try again in a few minutes."
        )
    if new and everyone.collections >= settings.max_collections:
        raise InvalidInputError(
            f"The app already keeps {everyone.collections} collections, its limit "
            "(SIGLIP_PROJECTS_MAX_COLLECTIONS). Delete one you made, or try again later."
        )
    extra = images * BYTES_PER_IMAGE
    if disk + extra > settings.index_max_gb * 1e9:
        raise InvalidInputError(
            f"The app's index folder holds {disk / 1e9:,.1f} GB, and this upload would take it over its "
            f"budget of {settings.index_max_gb:,.1f} GB (SIGLIP_PROJECTS_INDEX_MAX_GB). Try again later."
        )
    if not caller.admin:
        _check_owner(mine, images, extra, settings, new=new)


def _check_owner(mine: Usage, images: int, extra: int, settings: Settings, *, new: bool) -> None:
    if mine.building >= settings.owner_max_builds:
        raise InvalidInputError(
            f"You have {mine.building} build(s) in flight, the most one visitor may have at once "
            "(SIGLIP_PROJECTS_OWNER_MAX_BUILDS). Try again when it is done (usually a minute or two)."
        )
    if new and mine.collections >= settings.owner_max_collections:
        raise InvalidInputError(
            f"You keep {mine.collections} collections, the most one visitor may "
            "(SIGLIP_PROJECTS_OWNER_MAX_COLLECTIONS). Delete one of yours first."
        )
    if mine.images + images > settings.owner_max_images:
        raise InvalidInputError(
            f"Your collections hold {mine.images:,} images; with these {images:,} they would pass the "
            f"{settings.owner_max_images:,} one visitor may keep (SIGLIP_PROJECTS_OWNER_MAX_IMAGES). "
            "Delete some, or upload fewer."
        )
    if mine.bytes + extra > settings.owner_max_mb * 1e6:
        raise InvalidInputError(
            f"Your collections take {mine.bytes / 1e6:,.1f} MB; with these images they would pass the "
            f"{settings.owner_max_mb:,} MB one visitor may keep (SIGLIP_PROJECTS_OWNER_MAX_MB). "
            "Delete some, or upload fewer."
        )
