"""Fixtures for the index tests: settings on tiny models with a fresh index folder, generated images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.config import Settings, set_settings
from core.encoders import Encoder, get_encoder

IMAGE_COUNT = 24
BATCH_SIZE = 4


def make_image(seed: int, size: tuple[int, int] = (40, 32)) -> Image.Image:
    """A small picture: a coloured background, noise and a shape, different for every seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = rng.integers(0, 190, 3, dtype=np.uint8)
    noise = rng.integers(0, 255, (height, width, 3), dtype=np.uint8) // 4
    image = Image.fromarray((noise + background).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    box = sorted(rng.integers(0, width, 2)), sorted(rng.integers(0, height, 2))
    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
    shape = draw.ellipse if seed % 2 else draw.rectangle
    shape([box[0][0], box[1][0], box[0][1] + 1, box[1][1] + 1], fill=colour)
    return image


def write_images(folder: Path, seeds: range | list[int]) -> list[Path]:
    """Save images under `folder` in a few sub-folders and formats; return their paths."""
    formats = [".png", ".jpg", ".webp", ".bmp", ".gif", ".tiff"]
    paths = []
    for seed in seeds:
        sub = folder / ("" if seed % 3 == 0 else f"part{seed % 3}")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"image{seed:03d}{formats[seed % len(formats)]}"
        make_image(seed).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def settings(tiny_models, tmp_path) -> Iterator[Settings]:
    """Tiny models, a fresh index folder and small batches; the process settings are reset afterwards."""
    yield Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=BATCH_SIZE)
    set_settings(None)


@pytest.fixture
def siglip(settings) -> Encoder:
    return get_encoder("siglip", settings)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, range(IMAGE_COUNT))
    return folder
