"""Which files of the index folder the app may serve: the `thumbnails/` folder of an image index
without an owner (the gallery, command-line builds), and nothing else of it. A collection made in the
app (`core.index.format.access`) is never served from a fixed address.

The core decides what is served; the app says how (Gradio's static paths) once, with `set_publisher`.
A folder is published the first time a search opens its index, so indexes built after start-up (by the
app or the command line) are served without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from core.config import Settings, get_settings
from core.index.format.access import is_owned
from core.index.format.catalog import catalog
from core.index.format.layout import THUMBNAILS, WIKIART_INDEX, Kind, index_path, index_root

log = logging.getLogger(__name__)

#: Publishes folders for the web server (the app sets Gradio's `gr.set_static_paths`).
Publisher = Callable[[list[Path]], None]

_publisher: Publisher | None = None
_served: set[Path] = set()
_lock = threading.Lock()


def set_publisher(publish: Publisher | None) -> None:
    """How folders are published from now on (None: not at all, as on the command line)."""
    global _publisher
    with _lock:
        _publisher = publish


def serve_thumbnails(index_folder: Path, settings: Settings | None = None) -> None:
    """Publish `<index_folder>/thumbnails/` (once): a folder of the index folder that is no link."""
    folder = index_folder / THUMBNAILS
    with _lock:
        if folder in _served or _publisher is None:
            return
        root = index_root(settings or get_settings())
        if (
            folder.is_symlink()
            or index_folder.parent != root
            or not index_folder.is_dir()
            or is_owned(index_folder)
        ):
            log.warning("Not serving %s: not the thumbnails folder of an index in %s", folder, root)
            return
        _publisher([folder])
        _served.add(folder)


def served_at_launch(settings: Settings) -> list[str]:
    """The folders to serve from launch: thumbnails of the image indexes without an owner there are, and
    of the WikiArt gallery (which may be built after launch). Later ones are published by
    `serve_thumbnails`."""
    entries = catalog(settings).entries(Kind.IMAGE)
    folders = {entry.path / THUMBNAILS for entry in entries if not is_owned(entry.path)}
    folders.add(index_path(WIKIART_INDEX, settings) / THUMBNAILS)
    return sorted(str(folder) for folder in folders)
