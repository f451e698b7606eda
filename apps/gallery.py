"""The draw tab's gallery: the index for each model, captions, and what to say while there is none.

Which index serves which model is the core's catalog; the default WikiArt gallery is a background job
of the core (`core.index.jobs`); this module turns them into what the tab shows.
"""

from __future__ import annotations

import time

from apps import texts
from core.config import Settings, get_settings
from core.errors import IndexLoadError
from core.index import Hit, LoadedIndex, load_index, search
from core.index.catalog import CatalogEntry, catalog
from core.index.compat import check_settings
from core.index.jobs import WIKIART_DATASET, WIKIART_INDEX, JobState, JobStatus, jobs
from core.index.jobs import start_default_gallery as start_job
from core.index.layout import THUMBNAILS, Kind, index_path
from core.registry import get_spec


def gallery_indexes(settings: Settings | None = None) -> dict[str, CatalogEntry]:
    """{model key: image index to search with it}: the WikiArt gallery first, then others by name."""
    return catalog(settings).by_model(settings or get_settings(), first=WIKIART_INDEX)


def model_choices() -> list[tuple[str, str]]:
    """(label, model key) for the model selector: the models that have an index."""
    return [
        (f"{get_spec(key).name} · {entry.name} ({entry.count:,} images)", key)
        for key, entry in gallery_indexes().items()
    ]


def default_model(preferred: str) -> str | None:
    keys = list(gallery_indexes())
    return preferred if preferred in keys else (keys[0] if keys else None)


def index_for(model: str) -> LoadedIndex:
    """The loaded index to search with `model`.

    Raises:
        IndexLoadError: no index was built with this model (the message says how to build one), or
            the WikiArt gallery is still being built.
        IndexMismatchError: the only index for this model was built from another checkpoint than the
            one the app loads now (the message names both).
        UnknownModelError: not a registry key.
    """
    spec = get_spec(model)
    usable = gallery_indexes()
    entry = usable.get(model)
    status = build_status()
    if entry is None and status.state == JobState.RUNNING:
        raise IndexLoadError(
            f"The WikiArt gallery is still being built ({status.done:,} of {status.total:,} paintings). "
            "Try again when it is done; the other tabs work meanwhile."
        )
    if entry is None:
        for other in catalog().entries(Kind.IMAGE):
            if other.model_key == model:  # built with this model, but not the checkpoint loaded now
                check_settings(other.manifest, model)
        available = ", ".join(usable) or "none"
        raise IndexLoadError(
            f"No image index was built with {spec.name} ('{model}'); models with an index: {available}. "
            f"Build one with `python app.py index build {WIKIART_INDEX}-{model} --dataset {WIKIART_DATASET} "
            f"--limit 2000 --model-key {model}` (or --folder PATH), then restart the app."
        )
    return load_index(entry.name, model)


def find(index: LoadedIndex, query: object, k: int) -> list[Hit]:
    """The `k` nearest items with a thumbnail, best first (text or image query)."""
    return [hit for hit in search(index, query, k) if hit.thumbnail is not None]  # type: ignore[arg-type]


def caption(hit: Hit) -> str:
    """`Title — Artist · Style · 0.312`, with whichever of these fields the index has."""
    data = hit.metadata
    title = data.get("title") or data.get("caption") or data.get("genre") or data.get("path") or f"#{hit.id}"
    parts = [str(title) + (f" — {data['artist']}" if data.get("artist") else "")]
    parts += [str(data["style"])] if data.get("style") else []
    return " · ".join([*parts, f"{hit.score:.3f}"])


def index_label(index: LoadedIndex) -> str:
    return f"index '{index.name}' ({len(index):,} images)"


def served_folders(settings: Settings) -> list[str]:
    """The only folders whose files the app may serve: thumbnails of the image indexes (and of the
    WikiArt gallery, which may be built after launch)."""
    folders = {entry.path / THUMBNAILS for entry in catalog(settings).entries(Kind.IMAGE)}
    folders.add(index_path(WIKIART_INDEX, settings) / THUMBNAILS)
    return sorted(str(folder) for folder in folders)


def start_default_gallery(settings: Settings):  # -> threading.Thread | None
    """Start the WikiArt gallery's background build if it is missing and wanted (see core.index.jobs)."""
    return start_job(settings, off_message=texts.WIKIART_OFF_HINT)


def build_status() -> JobStatus:
    return jobs.status(WIKIART_INDEX)


def building() -> bool:
    return jobs.running(WIKIART_INDEX)


def status_markdown() -> str:
    """The tab's index status: building (with progress), failed/absent (how to build one), or nothing."""
    status = build_status()
    if status.state == JobState.RUNNING:
        return texts.building_note(status.done, status.total, time.monotonic() - status.started)
    if gallery_indexes():
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
