"""The app's default gallery: the WikiArt paintings Draw to Search shows first.

On start-up, when no `wikiart` index exists, the app pulls it from the dataset repo named by
`SIGLIP_PROJECTS_GALLERY_REPO` (a pushed index, every file verified), or, when that is not set and
`SIGLIP_PROJECTS_WIKIART_SIZE` > 0, indexes the first paintings of the Hub dataset `huggan/wikiart`, as
a background job; the index stays for later starts (an interrupted build resumes). Offline the job
fails at once and says why.
"""

from __future__ import annotations

import logging
from typing import Any

from core.config import Settings
from core.index.build.driver import build_index
from core.index.build.options import BuildOptions
from core.index.format.catalog import catalog
from core.index.format.layout import WIKIART_DATASET, WIKIART_INDEX, Kind
from core.index.service.hub import pull
from core.index.service.jobs import JobHandle, JobState, JobStatus, jobs
from core.index.sources import DatasetSource
from core.progress import ProgressCallback
from core.registry import DEFAULT_MODEL_KEY

log = logging.getLogger(__name__)

WIKIART_MODEL = DEFAULT_MODEL_KEY
WIKIART_COLUMNS = ("artist", "style", "genre")

__all__ = ["WIKIART_DATASET", "WIKIART_INDEX", "gallery_status", "start_default_gallery"]


def gallery_status() -> JobStatus:
    """Where the gallery's background job stands (IDLE when none ran)."""
    return jobs.status(WIKIART_INDEX)


def start_default_gallery(settings: Settings, off_message: str = "") -> JobHandle | None:
    """Start making the WikiArt gallery in the background if it is missing: pulled from
    `SIGLIP_PROJECTS_GALLERY_REPO` when that is set, else built (unless the size setting is 0).

    Returns:
        The job's handle (joined like a thread), or None when nothing is made (the index exists,
        or the size setting is 0; then the job's state is OFF with `off_message`).
    """
    if any(entry.name == WIKIART_INDEX for entry in catalog(settings).entries(Kind.IMAGE)):
        return None
    if settings.gallery_repo:
        log.info("No '%s' index: pulling it from %s", WIKIART_INDEX, settings.gallery_repo)
        message = f"Downloading the gallery from {settings.gallery_repo}..."
        return jobs.start(WIKIART_INDEX, lambda progress: _pull_gallery(settings), message=message)
    size = max(0, settings.wikiart_size)
    if size == 0:
        jobs.set(WIKIART_INDEX, state=JobState.OFF, message=off_message)
        return None
    log.info("No '%s' index: building it from %d rows of %s", WIKIART_INDEX, size, WIKIART_DATASET)
    return jobs.start(WIKIART_INDEX, lambda progress: _build_wikiart(settings, size, progress), total=size)


def _pull_gallery(settings: Settings) -> Any:
    manifest = pull(settings.gallery_repo, WIKIART_INDEX, settings=settings)
    log.info("WikiArt gallery installed from %s: %d paintings", settings.gallery_repo, manifest.count)
    return manifest


def _build_wikiart(settings: Settings, size: int, progress: ProgressCallback) -> Any:
    source = DatasetSource(
        WIKIART_DATASET, kind="image", column="image", split="train", limit=size,
        metadata_columns=list(WIKIART_COLUMNS),
    )  # fmt: skip
    report = build_index(
        WIKIART_INDEX, source, BuildOptions(model_key=WIKIART_MODEL), settings=settings, progress=progress
    )
    log.info("WikiArt gallery ready: %d paintings in %.0f s", report.count, report.seconds)
    return report
