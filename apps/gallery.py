"""The search tabs' indexes as the UI shows them: the selectors' choices, captions, the status while
there is none, and the default gallery's progress.

Which index a search opens is the core's (`core.index.searching.resolve.open_index`: the model looked
up once, the index checked once, its thumbnails served); the default WikiArt gallery is a background
job of the core (`core.index.service.gallery`). This module turns them into what the tabs show.
"""

from __future__ import annotations

import time
from typing import Any

from apps import texts
from core.config import Settings
from core.errors import NoIndexError
from core.index import Hit, SearchTarget, open_index, search
from core.index.format.catalog import catalog
from core.index.format.layout import Kind
from core.index.searching.resolve import default_indexes, usable_indexes
from core.index.service.gallery import gallery_status
from core.index.service.gallery import start_default_gallery as start_job
from core.index.service.jobs import JobState, JobStatus
from core.registry import get_spec


def model_choices() -> list[tuple[str, str]]:
    """(label, model key) for the model selector: the models that have an index (each model's
    indexes are listed by the index selector)."""
    return [(get_spec(key).name, key) for key in default_indexes()]


def default_model(preferred: str) -> str | None:
    keys = list(default_indexes())
    return preferred if preferred in keys else (keys[0] if keys else None)


def open_for_search(model: str | None, index: str | None = None) -> SearchTarget:
    """The index a search of the app uses (see `open_index`); while the default gallery is still being
    built, a search of a model without an index says so.

    Raises:
        SiglipProjectsError: as `open_index`.
    """
    try:
        return open_index(model, index or None)
    except NoIndexError:
        status = build_status()
        if status.state != JobState.RUNNING:
            raise
        raise NoIndexError(
            f"The WikiArt gallery is still being built ({status.done:,} of {status.total:,} paintings). "
            "Try again when it is done; the other tabs work meanwhile."
        ) from None


def index_choices(model: str | None) -> list[tuple[str, str]]:
    """(label, index name) for the index selector of `model`: first "" (the model's default index),
    then every image index built with the checkpoint the app loads for it."""
    if not model:
        return []
    default = default_indexes().get(model)
    first = [(f"Default: {default.name} ({default.count:,} images)", "")] if default else []
    return first + [(f"{entry.name} ({entry.count:,} images)", entry.name) for entry in usable_indexes(model)]


def image_index_choices() -> list[tuple[str, str]]:
    """(label, name) of every image index usable with the models the app loads now."""
    return [
        (f"{entry.name} · {get_spec(entry.model_key).name} ({entry.count:,} images)", entry.name)
        for entry in usable_indexes()
    ]


def index_rows() -> list[dict[str, Any]]:
    """What `/list_indexes` returns: every index, with what it holds and how it was made."""
    return [
        {
            "name": entry.name, "kind": str(entry.kind), "model_key": entry.model_key, "count": entry.count,
            "source": str(entry.manifest.source.get("type", "")), "updated": entry.updated,
            "size_bytes": entry.size_bytes,
        }
        for entry in catalog().entries()
    ]  # fmt: skip


def find(
    index: SearchTarget, query: object, k: int, where: Any = None, min_score: float | None = None
) -> list[Hit]:
    """The `k` nearest items with a thumbnail, best first (a text, an image or a query vector), among
    those matching `where` and scoring at least `min_score`."""
    hits = search(index, query, k, where=where, min_score=min_score)  # type: ignore[arg-type]
    return [hit for hit in hits if hit.thumbnail is not None]


def items_of(hits: list[Hit], score_first: bool = False) -> list[tuple[str, str]]:
    """Gallery items: (thumbnail path, caption), best first."""
    return [(str(hit.thumbnail), caption(hit, score_first)) for hit in hits if hit.thumbnail is not None]


def caption(hit: Hit, score_first: bool = False) -> str:
    """`Title — Artist · Style · 0.312` (or `0.312 · Title — ...`), with whichever of these fields the
    index has."""
    data = hit.metadata
    title = data.get("title") or data.get("caption") or data.get("genre") or data.get("path") or f"#{hit.id}"
    parts = [str(title) + (f" — {data['artist']}" if data.get("artist") else "")]
    parts += [str(data["style"])] if data.get("style") else []
    score = f"{hit.score:.3f}"
    return " · ".join([score, *parts] if score_first else [*parts, score])


def index_label(index: SearchTarget) -> str:
    return f"index '{index.name}' ({len(index):,} images)"


def start_default_gallery(settings: Settings):  # -> threading.Thread | None
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
