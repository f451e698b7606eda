"""The search tabs' indexes: which index a search uses, captions, serving thumbnails, and what to say
while there is none.

Which index serves which model is the core's catalog; the default WikiArt gallery is a background job
of the core (`core.index.jobs`); this module turns them into what the tabs show. Every image index in
the index folder can be searched, including those built after start-up (by the app or the command
line): the catalog notices new manifests, and `serve_thumbnails` lets the server hand out the new
index's `thumbnails/` folder, and nothing else of it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from apps import texts
from core.config import Settings, get_settings
from core.errors import IndexLoadError, SiglipProjectsError
from core.index import Hit, LoadedIndex, load_index, search
from core.index.catalog import CatalogEntry, catalog
from core.index.compat import check_settings
from core.index.jobs import WIKIART_DATASET, WIKIART_INDEX, JobState, JobStatus, jobs
from core.index.jobs import start_default_gallery as start_job
from core.index.layout import THUMBNAILS, Kind, index_path, index_root
from core.registry import MODELS, get_spec

log = logging.getLogger(__name__)
_served: set[Path] = set()
_served_lock = threading.Lock()


def gallery_indexes(settings: Settings | None = None) -> dict[str, CatalogEntry]:
    """{model key: image index to search with it}: the WikiArt gallery first, then others by name."""
    return catalog(settings).by_model(settings or get_settings(), first=WIKIART_INDEX)


def model_choices() -> list[tuple[str, str]]:
    """(label, model key) for the model selector: the models that have an index (each model's
    indexes are listed by the index selector)."""
    return [(get_spec(key).name, key) for key in gallery_indexes()]


def default_model(preferred: str) -> str | None:
    keys = list(gallery_indexes())
    return preferred if preferred in keys else (keys[0] if keys else None)


def index_for(model: str, index: str | None = None) -> LoadedIndex:
    """The loaded index to search with `model`: the image index named `index`, or by default the
    model's own (the WikiArt gallery first). Its thumbnails are served from then on.

    Raises:
        IndexLoadError: no index was built with this model (the message says how to build one), the
            WikiArt gallery is still being built, or there is no image index named `index`.
        IndexMismatchError: the only index for this model was built from another checkpoint than the
            one the app loads now (the message names both).
        UnknownModelError: not a registry key.
    """
    spec = get_spec(model)
    if index:
        return _named(index, model)
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
            f"--limit 2000 --model-key {model}` (or --folder PATH), or create a collection in the Your "
            "images tab; it is searchable at once."
        )
    serve_thumbnails(entry.path)
    return load_index(entry.name, model)


def _named(name: str, model: str) -> LoadedIndex:
    entries = {entry.name: entry for entry in catalog().entries()}
    entry = entries.get(name)
    if entry is None or entry.manifest.kind != Kind.IMAGE:
        images = ", ".join(n for n, e in entries.items() if e.manifest.kind == Kind.IMAGE) or "none"
        what = "is a text index" if entry is not None else "does not exist"
        raise IndexLoadError(
            f"The image index {name[:80]!r} {what}; image indexes: {images}. Build one with `python app.py "
            "index build NAME --folder PATH`, or create a collection in the Your images tab."
        )
    check_settings(entry.manifest, model)
    serve_thumbnails(entry.path)
    return load_index(entry.name, model)


def index_choices(model: str | None) -> list[tuple[str, str]]:
    """(label, index name) for the index selector of `model`: first "" (the model's default index),
    then every image index built with the checkpoint the app loads for it."""
    if not model:
        return []
    usable = [entry for entry in catalog().entries(Kind.IMAGE) if _usable(entry, model)]
    default = gallery_indexes().get(model)
    first = [(f"Default: {default.name} ({default.count:,} images)", "")] if default else []
    return first + [(f"{entry.name} ({entry.count:,} images)", entry.name) for entry in usable]


def _usable(entry: CatalogEntry, model: str) -> bool:
    if entry.model_key != model:
        return False
    try:
        check_settings(entry.manifest, model)
    except SiglipProjectsError:
        return False
    return True


def image_index_choices() -> list[tuple[str, str]]:
    """(label, name) of every image index usable with the models the app loads now."""
    return [
        (f"{entry.name} · {get_spec(entry.model_key).name} ({entry.count:,} images)", entry.name)
        for entry in catalog().entries(Kind.IMAGE)
        if entry.model_key in MODELS and _usable(entry, entry.model_key)
    ]


def index_rows() -> list[dict[str, Any]]:
    """What `/list_indexes` returns: every index, with what it holds and how it was made."""
    return [
        {
            "name": entry.name, "kind": str(entry.manifest.kind), "model_key": entry.model_key,
            "count": entry.count, "source": str(entry.manifest.source.get("type", "")),
            "updated": entry.manifest.updated,
            "size_bytes": int(sum(int(record.get("bytes", 0)) for record in entry.manifest.files.values())
                              + entry.manifest.thumbnails.get("bytes", 0)),
        }
        for entry in catalog().entries()
    ]  # fmt: skip


def serve_thumbnails(index_folder: Path) -> None:
    """Let the server hand out the files of `<index_folder>/thumbnails/` (and only those), from now
    on, through Gradio's static paths: a folder of the index folder that is no link."""
    folder = index_folder / THUMBNAILS
    with _served_lock:
        if folder in _served:
            return
        root = index_root()
        if folder.is_symlink() or index_folder.parent != root or not index_folder.is_dir():
            log.warning("Not serving %s: not the thumbnails folder of an index in %s", folder, root)
            return
        gr.set_static_paths([folder])
        _served.add(folder)


def find(
    index: LoadedIndex, query: object, k: int, where: Any = None, min_score: float | None = None
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


def index_label(index: LoadedIndex) -> str:
    return f"index '{index.name}' ({len(index):,} images)"


def served_folders(settings: Settings) -> list[str]:
    """The folders the app serves from launch: thumbnails of the image indexes (and of the WikiArt
    gallery, which may be built after launch). Indexes made later are added by `serve_thumbnails`."""
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
    if status.state == JobState.RUNNING and status.message:  # pulling it from the Hub
        return texts.gallery_download_note(status.message, time.monotonic() - status.started)
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
