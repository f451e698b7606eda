"""Fixtures of the app tests: a tiny painting index, settings using it, and the app served on a free port."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from core.config import Settings, set_settings

#: (title, artist, style, shape, colour) of each tiny "painting".
PAINTINGS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Red Sun", "Ada Lovelace", "Minimalism", "disc", "red"),
    ("Blue Moon", "Alan Turing", "Abstract", "disc", "blue"),
    ("Green Field", "Grace Hopper", "Color Field", "square", "green"),
    ("Black Line", "Edsger Dijkstra", "Minimalism", "line", "black"),
    ("Yellow Star", "Barbara Liskov", "Pop Art", "star", "gold"),
    ("Purple Rain", "Donald Knuth", "Expressionism", "stripes", "purple"),
    ("Orange Square", "Ken Thompson", "Suprematism", "square", "orange"),
    ("Grey Storm", "Margaret Hamilton", "Romanticism", "stripes", "grey"),
    ("White Cross", "John McCarthy", "Suprematism", "cross", "black"),
    ("Pink Circle", "Frances Allen", "Pop Art", "ring", "deeppink"),
    ("Teal Wave", "Radia Perlman", "Abstract", "line", "teal"),
    ("Brown Tree", "Niklaus Wirth", "Realism", "cross", "saddlebrown"),
)
GALLERY_MODELS = ("siglip", "siglip2")


def painting(shape: str, colour: str, size: int = 96) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    box = (size // 5, size // 5, size * 4 // 5, size * 4 // 5)
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=size // 12)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "line":
        draw.line((0, size, size, 0), fill=colour, width=size // 10)
    elif shape == "cross":
        draw.line((size // 2, 0, size // 2, size), fill=colour, width=size // 8)
        draw.line((0, size // 2, size, size // 2), fill=colour, width=size // 8)
    elif shape == "stripes":
        for y in range(0, size, size // 6):
            draw.rectangle((0, y, size, y + size // 12), fill=colour)
    else:
        draw.polygon(
            [
                (size // 2, 5),
                (size - 10, size - 10),
                (10, size // 3),
                (size - 10, size // 3),
                (10, size - 10),
            ],
            fill=colour,
        )
    return image


def write_paintings(folder: Path) -> Path:
    """Save the 12 PAINTINGS into `folder` with their metadata.jsonl (title, artist, style)."""
    rows = []
    for n, (title, artist, style, shape, colour) in enumerate(PAINTINGS):
        name = f"{n:02d}-{shape}-{colour}.png"
        painting(shape, colour).save(folder / name)
        rows.append({"file_name": name, "title": title, "artist": artist, "style": style})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def gallery_dir(tiny_models, tmp_path_factory) -> Path:
    """An index folder holding `wikiart` (SigLIP) and `shapes-siglip2` (SigLIP 2) built from 12 drawings."""
    from core.index import BuildOptions, FolderSource, build_index

    pictures = write_paintings(tmp_path_factory.mktemp("paintings"))
    root = tmp_path_factory.mktemp("indexes")
    settings = Settings.from_env().with_(index_dir=root)
    build_index("wikiart", FolderSource(pictures), BuildOptions(model_key="siglip"), settings=settings)
    build_index(
        "shapes-siglip2", FolderSource(pictures), BuildOptions(model_key="siglip2"), settings=settings
    )
    return root


@pytest.fixture
def app_settings(gallery_dir, monkeypatch) -> Iterator[Settings]:
    """Process settings: tiny models, the tiny gallery, no WikiArt download."""
    monkeypatch.setenv("SIGLIP_PROJECTS_WIKIART_SIZE", "0")
    settings = Settings.from_env().with_(index_dir=gallery_dir)
    set_settings(settings)
    yield settings
    set_settings(None)


@dataclass
class LiveApp:
    url: str
    settings: Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(index_dir: Path, **changes: Any) -> Iterator[tuple[Any, Any, str, Settings]]:
    """The whole app (`apps.build_demo` + `apps.launch`) on a free localhost port, serving `index_dir`
    with the tiny models, no WikiArt download and any other setting `changes`.
    Yields (demo, FastAPI app, URL, settings)."""
    import apps

    settings = Settings.from_env().with_(index_dir=index_dir, wikiart_size=0, **changes)
    demo = apps.build_demo(settings)
    fastapi, url, _ = apps.launch(demo, host="127.0.0.1", port=free_port(), settings=settings, block=False)
    try:
        yield demo, fastapi, url.rstrip("/") + "/", settings
    finally:
        demo.close()
        set_settings(None)


@pytest.fixture(scope="module")
def live_app(gallery_dir) -> Iterator[LiveApp]:
    """The whole app on a free localhost port, tiny models and gallery."""
    with serve(gallery_dir) as (_, _, url, settings):
        yield LiveApp(url, settings)
