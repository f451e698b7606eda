"""The search tabs' indexes as the UI shows them: the selectors' choices, captions, the status while
there is none, and the default gallery's progress.

Which index a search opens is the core's (`core.index.searching.resolve.open_index`: the model looked
up once, the index checked once, its thumbnails served); the default WikiArt gallery is a background
job of the core (`core.index.service.gallery`). This module turns them into what the tabs show, for
one `Caller` (`apps.identity`): someone else's private collection is not listed, and a collection's
thumbnails are handed out as copies at unguessable addresses, never from the index folder's own path.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from apps import texts
from core.config import Settings
from core.errors import NoIndexError
from core.index import Hit, SearchTarget, open_index, search
from core.index.format.access import Caller, read_access
from core.index.format.catalog import catalog
from core.index.format.layout import Kind
from core.index.searching.resolve import default_indexes, usable_indexes
from core.index.service.gallery import gallery_status
from core.index.service.gallery import start_default_gallery as start_job
from core.index.service.jobs import JobState, JobStatus
from core.registry import MODELS, get_spec


def model_choices(caller: Caller | None = None) -> list[tuple[str, str]]:
    """(label, model key) for the model selector: the models that have an index `caller` may read
    (each model's indexes are listed by the index selector)."""
    keys = {*default_indexes(), *(entry.model_key for entry in usable_indexes(caller=caller))}
    return [(spec.name, key) for key, spec in MODELS.items() if key in keys]


def default_model(preferred: str) -> str | None:
    keys = list(default_indexes())
    return preferred if preferred in keys else (keys[0] if keys else None)


def open_for_search(
    model: str | None, index: str | None = None, caller: Caller | None = None
) -> SearchTarget:
    """The index a search of the app uses (see `open_index`); while the default gallery is still being
    built, a search of a model without an index says so.

    Raises:
        SiglipProjectsError: as `open_index`.
    """
    try:
        return open_index(model, index or None, caller=caller)
    except NoIndexError:
        status = build_status()
        if status.state != JobState.RUNNING:
            raise
        raise NoIndexError(
            f"The WikiArt gallery is still being built ({status.done:,} of {status.total:,} paintings). "
            "Try again when it is done; the other tabs work meanwhile."
        ) from None


def index_choices(model: str | None, caller: Caller | None = None) -> list[tuple[str, str]]:
    """(label, index name) for the index selector of `model`: first "" (the model's default index),
    then every image index `caller` may read built with the checkpoint the app loads for it."""
    if not model:
        return []
    default = default_indexes().get(model)
    first = [(f"Default: {default.name} ({default.count:,} images)", "")] if default else []
    usable = usable_indexes(model, caller=caller)
    return first + [(f"{entry.name} ({entry.count:,} images)", entry.name) for entry in usable]


def image_index_choices(caller: Caller | None = None) -> list[tuple[str, str]]:
    """(label, name) of every image index `caller` may read, usable with the models the app loads now."""
    return [
        (f"{entry.name} · {get_spec(entry.model_key).name} ({entry.count:,} images)", entry.name)
        for entry in usable_indexes(caller=caller)
    ]


def index_rows(caller: Caller | None = None) -> list[dict[str, Any]]:
    """What `/list_indexes` returns: every index `caller` may read, with what it holds, how it was made,
    who may see it (`access`: public, private or link) and whether it is theirs to change."""
    caller = caller or Caller()
    rows = []
    for entry in catalog().entries():
        access = read_access(entry.path)
        if access is not None and not access.may_read(caller):
            continue
        rows.append({
            "name": entry.name, "kind": str(entry.kind), "model_key": entry.model_key, "count": entry.count,
            "source": str(entry.manifest.source.get("type", "")), "updated": entry.updated,
            "size_bytes": entry.size_bytes, "access": access.visibility if access else "public",
            "yours": caller.admin or (access is not None and access.may_change(caller)),
        })  # fmt: skip
    return rows


def find(
    index: SearchTarget, query: object, k: int, where: Any = None, min_score: float | None = None
) -> list[Hit]:
    """The `k` nearest items with a thumbnail, best first (a text, an image or a query vector), among
    those matching `where` and scoring at least `min_score`."""
    hits = search(index, query, k, where=where, min_score=min_score)  # type: ignore[arg-type]
    return [hit for hit in hits if hit.thumbnail is not None]


def items_of(target: SearchTarget, hits: list[Hit], score_first: bool = False) -> list[tuple[str, str]]:
    """Gallery items of a search of `target`: (thumbnail path, caption), best first. The thumbnails of
    an index whose folder is not served (a collection) are handed out as copies (`private_copy`)."""
    return [
        (str(hit.thumbnail) if target.served else private_copy(hit.thumbnail), caption(hit, score_first))
        for hit in hits
        if hit.thumbnail is not None
    ]


#: One folder per process, of a random name, in Gradio's own cache (swept like every upload).
_COPIES_FOLDER = f"thumbnails-{secrets.token_hex(16)}"


def private_copy(thumbnail: Path) -> str:
    """A link (or copy) of a collection's thumbnail in a folder of a random name in Gradio's cache,
    which Gradio then serves at an address made from its own secret seed and the file's bytes: nobody
    can guess it, and the index folder's path is never handed out."""
    from gradio.utils import get_upload_folder

    target = Path(get_upload_folder()) / _COPIES_FOLDER / thumbnail.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{secrets.token_hex(8)}.tmp")
        try:
            os.link(thumbnail, staging)
        except OSError:
            shutil.copyfile(thumbnail, staging)
        os.replace(staging, target)
    return str(target)


def caption(hit: Hit, score_first: bool = False) -> str:
    """`Title — Artist · Style · 0.312` (or `0.312 · Title — ...`), with whichever of these fields the
    index has."""
    data = hit.metadata
    path = str(data.get("path") or "")
    if path.startswith("/") or ":\\" in path[:3]:  # a folder build's absolute path: the server's, not shown
        path = path.replace("\\", "/").rsplit("/", 1)[-1]
    title = data.get("title") or data.get("caption") or data.get("genre") or path or f"#{hit.id}"
    parts = [str(title) + (f" — {data['artist']}" if data.get("artist") else "")]
    parts += [str(data["style"])] if data.get("style") else []
    score = f"{hit.score:.3f}"
    return " · ".join([score, *parts] if score_first else [*parts, score])


def index_label(index: SearchTarget) -> str:
    return f"index '{index.name}' ({len(index):,} images)"


def start_default_gallery(settings: Settings):  # -> JobHandle | None
    """Start the WikiArt gallery's background build if it is missing and wanted (see
    `core.index.service.gallery`)."""
    return start_job(settings, off_message=texts.WIKIART_OFF_HINT)


def build_status() -> JobStatus:
    return gallery_status()


def building() -> bool:
    return gallery_status().state == JobState.RUNNING


def status_markdown() -> str:
    """The tab's index status: building (with progress), failed/absent (how to build one), or nothing."""
    status = build_status()
    if status.state == JobState.RUNNING and status.message:  # pulling it from the Hub
        return texts.gallery_download_note(status.message, time.monotonic() - status.started)
    if status.state == JobState.RUNNING:
        return texts.building_note(status.done, status.total, time.monotonic() - status.started)
    if default_indexes():
        return ""
    if status.state == JobState.FAILED:
        return texts.no_index_note(f"Building the WikiArt gallery failed: {status.message}")
    unusable = catalog().entries(Kind.IMAGE)
    if unusable:
        names = ", ".join(
            f"'{entry.name}' ({entry.model_key}: {entry.manifest.model_id})" for entry in unusable
        )
        return texts.no_index_note(
            f"Found {names}, built with other checkpoints than the app loads now; rebuild them with "
            "`--rebuild`, or start the app with the same `--model` settings."
        )
    return texts.no_index_note(status.message)
