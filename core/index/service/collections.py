"""Collections made in the app: an index created from uploaded images, added to later, deleted.

Each build runs as a background job (`core.index.service.jobs`), one at a time, so the request that started
it can follow its progress and a closed browser does not stop it. The uploaded files are hard-linked
(or copied) into a private folder first, so Gradio's cache cleaning cannot take them away mid-build.

A public app needs limits (`CollectionLimits`, from the settings) and rules on who may see and change
what (`core.index.format.access`): a collection belongs to the `Caller` who created it (a signed-in
user, or the holder of an owner token), is private until its owner shares it (publicly, or by a link),
and can be added to, shared or deleted only by its owner, unless the app runs with
`SIGLIP_PROJECTS_ADMIN=1`. The record is written into the collection's folder when its name is taken
(before anything is built), so ownership survives restarts. Indexes built by the command line, and
the WikiArt gallery, have no owner: everyone reads them, and only an admin may change them from the app.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings, get_settings
from core.errors import InvalidInputError
from core.index import hints
from core.index.build.driver import build_index
from core.index.build.options import BuildOptions, BuildReport
from core.index.build.plan import SkippedItem
from core.index.format.access import Caller
from core.index.format.layout import check_name
from core.index.format.store import IndexStore
from core.index.searching.load import clear_cache, load_index
from core.index.service import quotas
from core.index.service.jobs import jobs
from core.index.service.owners import RESERVED_NAMES, check_may_change, claim, taken
from core.index.sources.base import source_label
from core.index.sources.uploads import UploadLimits, UploadSource, scan_upload
from core.progress import ProgressCallback
from core.registry import get_spec

WAITING = "Waiting for another collection to finish building..."
_one_build = threading.Lock()


@dataclass(frozen=True)
class CollectionLimits:
    """What the app accepts: per upload, per collection, and collections in all."""

    upload: UploadLimits
    max_images: int
    max_collections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectionLimits:
        upload = UploadLimits(settings.upload_max_files, settings.upload_max_mb * 1_000_000)
        return cls(upload, settings.collection_max_images, settings.max_collections)


@dataclass(frozen=True)
class CollectionReport:
    """A finished build of a collection: the build's report, every image left out (and why), and the
    images that were already in it."""

    build: BuildReport
    skipped: tuple[SkippedItem, ...]
    duplicates: tuple[str, ...]

    @property
    def count(self) -> int:
        return self.build.count

    def as_dict(self) -> dict[str, Any]:
        build = self.build
        return {
            "name": build.name, "model_key": build.model_key, "count": build.count, "added": build.added,
            "embedded": build.embedded, "kept": build.kept, "duplicates": list(self.duplicates),
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
            "seconds": round(build.seconds, 2), "size_bytes": build.size_bytes,
        }  # fmt: skip


def start_create(
    name: str,
    files: Sequence[str | Path],
    model_key: str,
    *,
    caller: Caller,
    settings: Settings | None = None,
) -> None:
    """Check an upload and the quotas, take the name for `caller` (a private collection) and start
    building it from the upload with `model_key` (follow it with `jobs.follow(name)`; its result is a
    CollectionReport).

    Raises:
        InvalidInputError: a bad or reserved name, one already taken, a quota or budget passed, no
            owner, or a refused upload.
        UnknownModelError: `model_key` is not in the registry.
    """
    settings = settings or get_settings()
    limits = CollectionLimits.from_settings(settings)
    check_name(name)
    get_spec(model_key)
    if caller.owner is None:
        raise InvalidInputError("A collection needs an owner: sign in, or pass an owner token.")
    if name.lower() in RESERVED_NAMES:
        raise InvalidInputError(f"The name '{name}' is reserved for the app's gallery. Choose another name.")
    if IndexStore.named(name, settings).folder.exists():
        raise InvalidInputError(taken(name))
    staged, upload = _staged(files, limits)
    try:
        if len(upload.entries) > limits.max_images:
            raise InvalidInputError(_too_many(len(upload.entries), limits.max_images))
        with quotas.admitting:
            quotas.check_quotas(caller, len(upload.entries), settings, new=True)
            claim(name, caller, settings)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    work = _work(name, staged, upload, limits, BuildOptions(model_key=model_key), settings, add=False)
    jobs.start(name, work, total=len(upload.entries), message=WAITING)


def start_add(
    name: str, files: Sequence[str | Path], *, caller: Caller, settings: Settings | None = None
) -> None:
    """Check an upload and start adding its new images to collection `name` (only images it does not
    hold yet are embedded; follow it with `jobs.follow(name)`).

    Raises:
        InvalidInputError: not a collection made in the app, not yours, busy, full, or a refused upload.
        IndexLoadError: no such index (or not one the caller may see), or a damaged one.
    """
    settings = settings or get_settings()
    limits = CollectionLimits.from_settings(settings)
    check_may_change(name, caller, settings)
    if jobs.running(name):
        raise InvalidInputError(
            f"Collection '{name}' is being built right now. Add your images when it is done."
        )
    manifest = IndexStore.named(name, settings).manifest()
    if manifest.source.get("type") != "upload":
        raise InvalidInputError(
            f"Index '{name}' was built from {source_label(manifest.source)}, not from uploads; "
            f"{hints.update_hint(name)}, or create a collection here."
        )
    staged, upload = _staged(files, limits)
    try:
        if manifest.count + len(upload.entries) > limits.max_images:
            raise InvalidInputError(_too_many(manifest.count + len(upload.entries), limits.max_images))
        with quotas.admitting:
            quotas.check_quotas(caller, len(upload.entries), settings, new=False)
            work = _work(name, staged, upload, limits, BuildOptions(model_key=manifest.model_key), settings,
                         add=True)  # fmt: skip
            jobs.start(name, work, total=len(upload.entries), message=WAITING)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def delete(name: str, *, caller: Caller, settings: Settings | None = None) -> None:
    """Delete index `name` (a collection of `caller`, or any index for an admin).

    Raises:
        InvalidInputError: not yours, or being built.
        IndexLoadError: no such index (or not one the caller may see).
        IndexWriteError: it cannot be removed.
    """
    settings = settings or get_settings()
    store = IndexStore.named(name, settings)
    check_may_change(name, caller, settings)
    if jobs.running(name):
        raise InvalidInputError(f"Index '{name}' is being built right now. Delete it when the build is done.")
    store.delete()
    clear_cache(store.folder)
    jobs.forget(name)


def _too_many(count: int, most: int) -> str:
    return (
        f"The collection would hold {count:,} images; one collection holds at most {most:,} "
        f"(SIGLIP_PROJECTS_COLLECTION_MAX_IMAGES). Upload fewer, or {hints.folder_build_hint()}."
    )


def _staged(files: Sequence[str | Path], limits: CollectionLimits):  # -> tuple[Path, Upload]
    """The uploaded files linked (or copied) into a private folder, and the checked upload there."""
    staged = Path(tempfile.mkdtemp(prefix="siglip-upload-"))
    try:
        linked = []
        for number, file in enumerate(map(Path, files)):
            target = staged / str(number) / file.name
            target.parent.mkdir()
            try:
                os.link(file, target)
            except OSError:
                shutil.copyfile(file, target)
            linked.append(target)
        return staged, scan_upload(linked, limits.upload)
    except FileNotFoundError:
        shutil.rmtree(staged, ignore_errors=True)
        raise InvalidInputError("An uploaded file did not reach the server. Upload it again.") from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _work(name: str, staged: Path, upload: Any, limits: CollectionLimits, options: BuildOptions,
          settings: Settings, *, add: bool):  # fmt: skip
    def work(progress: ProgressCallback) -> CollectionReport:
        store = IndexStore.named(name, settings)
        try:
            jobs.set(name, message=WAITING)
            with _one_build:
                jobs.set(name, message="")
                existing = load_index(name, settings=settings) if add else None
                source = UploadSource(name, upload, limits.upload, existing)
                report = build_index(name, source, options, settings=settings, progress=progress)
        except BaseException:
            if not add and not store.exists():  # a first build that failed leaves no half-made index
                shutil.rmtree(store.folder, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        left_out = [SkippedItem(item, reason) for item, reason in (*upload.skipped, *source.unreadable)]
        return CollectionReport(report, (*left_out, *report.skipped), tuple(source.duplicates))

    return work
