"""Fixtures of the evaluation tests: class folders and captioned folders of generated pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Settings
from tests.core.index.conftest import make_image

#: Folder names of the classes: words the tiny tokenizers know, one with `_` for a space.
CLASS_FOLDERS = ("cat", "dog", "car", "bird", "red_apple", "coffee", "bicycle")
PER_CLASS = 3


def write_class_folder(root: Path, classes=CLASS_FOLDERS, per_class: int = PER_CLASS, suffix=".png") -> Path:
    """`root/<class>/<n>.png` for each class; images differ by class and number."""
    for number, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            make_image(100 * number + n, size=(48, 40)).save(root / name / f"{n}{suffix}")
    return root


def write_caption_folder(root: Path, count: int = 8, captions_per_image: int = 2) -> Path:
    """`count` images with a metadata.jsonl holding a list of captions for each."""
    root.mkdir(parents=True, exist_ok=True)
    words = ("cat", "dog", "car", "bird", "apple", "coffee", "soup", "house", "tree", "beach", "cup", "bread")
    rows = []
    for n in range(count):
        make_image(500 + n, size=(44, 36)).save(root / f"img{n}.png")
        texts = [f"a photo of a {words[n % len(words)]}", f"a {words[(n + 3) % len(words)]} and a {words[n]}"]
        rows.append({"file_name": f"img{n}.png", "caption": texts[:captions_per_image]})
    (root / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def class_folder(tmp_path_factory) -> Path:
    return write_class_folder(tmp_path_factory.mktemp("classes"))


@pytest.fixture(scope="session")
def caption_folder(tmp_path_factory) -> Path:
    return write_caption_folder(tmp_path_factory.mktemp("captions"))


@pytest.fixture
def settings(tiny_models) -> Settings:
    return Settings.from_env()


def write_zip(path: Path, folder: Path, top: str = "") -> Path:
    """Zip `folder`'s files (as `top/...` when `top` is given), as a user's zip tool would."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, (Path(top) / file.relative_to(folder)).as_posix())
    return path
