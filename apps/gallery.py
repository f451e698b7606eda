"""The draw tab's gallery: which index serves each model, captions, and the default WikiArt build.

On start-up, when no `wikiart` index exists and `SIGLIP_PROJECTS_WIKIART_SIZE` > 0, the first paintings
of the Hub dataset `huggan/wikiart` are indexed in a background thread with the core's index builder;
the tab shows its progress and uses the index as soon as it is written. The index stays for later starts
(an interrupted build resumes). Offline the build fails at once and the tab says how to build one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from apps import texts
from core.config import Settings, get_settings
from core.errors import IndexLoadError, SiglipProjectsError
from core.index.search import Hit, LoadedIndex, check_model, load_index, search
from core.index.store import (
    THUMBNAILS,
    Manifest,
    index_path,
    index_root,
    iter_manifests,
)
from core.registry import DEFAULT_MODEL_KEY, MODELS, get_spec

log = logging.getLogger(__name__)

WIKIART_INDEX = "wikiart"
WIKIART_DATASET = "huggan/wikiart"
WIKIART_MODEL = DEFAULT_MODEL_KEY
WIKIART_COLUMNS = ("artist", "style", "genre")


# --------------------------------------------------------------------------------------------------
# Which index serves which model


@dataclass(frozen=True)
class GalleryIndex:
    """An image index the draw tab can search: its name, folder, model and size."""

    name: str
    path: Path
    manifest: Manifest

    @property
    def model_key(self) -> str:
        return self.manifest.model_key

    @property
    def count(self) -> int:
        return self.manifest.count


def image_indexes(settings: Settings | None = None) -> list[GalleryIndex]:
    """Every finished image index of the index folder, by name (from the manifests alone)."""
    return [
        GalleryIndex(folder.name, folder, manifest) for folder, manifest in iter_manifests(settings, "image")
    ]


def gallery_indexes(settings: Settings | None = None) -> dict[str, GalleryIndex]:
    """{model key: image index to search with it}, in registry order.

    Only indexes built with the checkpoint the settings load for their model are usable; among several
    for one model, the WikiArt gallery comes first, then the others by name.
    """
    settings = settings or get_settings()
    chosen: dict[str, GalleryIndex] = {}
    for info in sorted(image_indexes(settings), key=lambda i: (i.name != WIKIART_INDEX, i.name)):
        if info.model_key in chosen or info.model_key not in MODELS:
            continue
        try:
            check_model(info.manifest, info.model_key, settings)
        except SiglipProjectsError as error:
            log.debug("Index %s is not searchable with the current models: %s", info.name, error)
            continue
        chosen[info.model_key] = info
    return {key: chosen[key] for key in MODELS if key in chosen}


def model_choices() -> list[tuple[str, str]]:
    """(label, model key) for the model selector: the models that have an index."""
    return [
        (f"{get_spec(key).name} · {info.name} ({info.count:,} images)", key)
        for key, info in gallery_indexes().items()
    ]


def default_model(preferred: str) -> str | None:
    keys = list(gallery_indexes())
    return preferred if preferred in keys else (keys[0] if keys else None)


def index_for(model: str) -> LoadedIndex:
    """The loaded index to search with `model`.

    Raises:
        IndexLoadError: no index was built with this model (the message says how to build one).
        IndexMismatchError: the only index for this model was built from another checkpoint than the
            one the app loads now (the message names both).
        UnknownModelError: not a registry key.
    """
    spec = get_spec(model)
    info = gallery_indexes().get(model)
    status = build_status()
    if info is None and status.state == "running":
        raise IndexLoadError(
            f"The WikiArt gallery is still being built ({status.done:,} of {status.total:,} paintings). "
            "Try again when it is done; the other tabs work meanwhile."
        )
    if info is None:
        for other in image_indexes():
            if other.model_key == model:  # built with this model, but not the checkpoint loaded now
                check_model(other.manifest, model)
        available = ", ".join(gallery_indexes()) or "none"
        raise IndexLoadError(
            f"No image index was built with {spec.name} ('{model}'); models with an index: {available}. "
            f"Build one with `python app.py index build {WIKIART_INDEX}-{model} --dataset {WIKIART_DATASET} "
            f"--limit 2000 --model-key {model}` (or --folder PATH), then restart the app."
        )
    return load_index(info.name, model)


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


def describe(index: LoadedIndex) -> str:
    return f"index '{index.name}' ({len(index):,} images)"


def served_folders(settings: Settings) -> list[str]:
    """The only folders whose files the app may serve: thumbnails of the image indexes (and of the
    WikiArt gallery, which may be built after launch)."""
    folders = {info.path / THUMBNAILS for info in image_indexes(settings)}
    folders.add(index_path(WIKIART_INDEX, settings) / THUMBNAILS)
    return sorted(str(folder) for folder in folders)


# --------------------------------------------------------------------------------------------------
# The default WikiArt gallery, built in the background


@dataclass(frozen=True)
class BuildStatus:
    """Where the background build of the WikiArt gallery stands."""

    state: str = "idle"  # idle | off | running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = 0.0


_status = BuildStatus()
_status_lock = threading.Lock()
_thread: threading.Thread | None = None


def build_status() -> BuildStatus:
    with _status_lock:
        return _status


def _set_status(**changes: object) -> None:
    global _status
    with _status_lock:
        _status = replace(_status, **changes)  # type: ignore[arg-type]


def building() -> bool:
    return build_status().state == "running"


def start_default_gallery(settings: Settings) -> threading.Thread | None:
    """Start building the WikiArt gallery in a daemon thread if it is missing and wanted.

    Returns:
        The thread, or None when nothing is built (the index exists, size 0, or a build is running).
    """
    global _thread
    size = max(0, settings.wikiart_size)
    if size == 0:
        _set_status(state="off", message=texts.WIKIART_OFF_HINT)
        return None
    if any(info.name == WIKIART_INDEX for info in image_indexes(settings)):
        return None
    if _thread is not None and _thread.is_alive():
        return _thread
    _set_status(state="running", done=0, total=size, message="", started=time.monotonic())
    _thread = threading.Thread(
        target=_build_wikiart, args=(settings, size), name="wikiart-build", daemon=True
    )
    _thread.start()
    return _thread


def _build_wikiart(settings: Settings, size: int) -> None:
    from core.index.build import build_image_index_from_dataset

    log.info(
        "No '%s' index in %s: building it from %d rows of %s",
        WIKIART_INDEX,
        index_root(settings),
        size,
        WIKIART_DATASET,
    )
    last_log = [0.0]

    def progress(done: int, total: int) -> None:
        _set_status(done=done, total=total or size)
        if time.monotonic() - last_log[0] > 10 or done >= (total or size):
            last_log[0] = time.monotonic()
            log.info("WikiArt gallery: %d/%d paintings indexed", done, total or size)

    try:
        report = build_image_index_from_dataset(
            WIKIART_INDEX,
            WIKIART_DATASET,
            split="train",
            limit=size,
            metadata_columns=list(WIKIART_COLUMNS),
            model_key=WIKIART_MODEL,
            settings=settings,
            progress=progress,
        )
    except SiglipProjectsError as error:
        log.warning("Could not build the WikiArt gallery: %s", error)
        _set_status(state="failed", message=str(error))
        return
    except Exception as error:  # a background thread must report, never die silently
        log.exception("The WikiArt gallery build failed")
        _set_status(state="failed", message=f"{type(error).__name__}: {error}")
        return
    log.info("WikiArt gallery ready: %d paintings in %.0f s", report.count, report.seconds)
    _set_status(state="done", done=report.count, total=report.count, message="")


def status_markdown() -> str:
    """The tab's index status: building (with progress), failed/absent (how to build one), or nothing."""
    status = build_status()
    if status.state == "running":
        return texts.building_note(status.done, status.total, time.monotonic() - status.started)
    if gallery_indexes():
        return ""
    if status.state == "failed":
        return texts.no_index_note(f"Building the WikiArt gallery failed: {status.message}")
    unusable = image_indexes()
    if unusable:
        names = ", ".join(f"'{info.name}' ({info.model_key}: {info.manifest.model_id})" for info in unusable)
        return texts.no_index_note(
            f"Found {names}, built with other checkpoints than the app loads now; rebuild them with "
            "`--rebuild`, or start the app with the same `--model` settings."
        )
    return texts.no_index_note(status.message)
