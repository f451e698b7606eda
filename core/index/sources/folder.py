"""Every image file under a folder, with per-file fields from an ImageFolder `metadata.jsonl`/`.csv`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError
from core.images import IMAGE_EXTENSIONS
from core.index.format.layout import Kind
from core.index.sources.base import Item, Source, scalars
from core.limits import check_path, quote_path
from core.tables import read_table

#: HF ImageFolder convention: a metadata file at the root of an image folder, with a `file_name` column.
SIDECAR_FILES = ("metadata.jsonl", "metadata.csv")


class FolderSource(Source):
    """Every image file under a folder (recursive; hidden files and folders, and `skip`, left out).

    Files ending in .jpg/.jpeg/.png/.webp/.gif/.bmp/.tif/.tiff are indexed. A `metadata.jsonl` or
    `metadata.csv` at the folder root with a `file_name` column (the Hugging Face ImageFolder
    convention) adds its other columns (title, artist, caption...) to each image's metadata.

    Raises:
        InvalidInputError: the folder does not exist.
    """

    kind = Kind.IMAGE
    listable = True

    def __init__(self, folder: str | os.PathLike[str], skip: Path | None = None) -> None:
        self.folder = check_path(folder, "The image folder").expanduser().resolve()
        if not self.folder.is_dir():
            raise InvalidInputError(
                f"The image folder {quote_path(self.folder)} does not exist or is not a folder."
            )
        self.skip = skip.resolve() if skip else None
        self._paths: list[Path] | None = None

    def excluding(self, folder: Path) -> FolderSource:
        return FolderSource(self.folder, skip=folder)

    def paths(self) -> list[Path]:
        if self._paths is None:
            found = []
            for root, dirs, files in os.walk(self.folder):
                here = Path(root)
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not self._skipped(here / d))
                found += [
                    here / name
                    for name in files
                    if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS
                ]
            self._paths = sorted(found, key=lambda path: path.relative_to(self.folder).as_posix())
        return self._paths

    def _skipped(self, path: Path) -> bool:
        if self.skip is None:
            return False
        return path.resolve() == self.skip or self.skip in path.resolve().parents

    def expected_count(self) -> int:
        return len(self.paths())

    def items(self) -> Iterator[Item]:
        sidecar = read_sidecar(self.folder)
        for path in self.paths():
            relative = path.relative_to(self.folder).as_posix()
            try:
                stat = path.stat()
                signature = f"{stat.st_size}:{stat.st_mtime_ns}"
            except OSError:
                signature = "unreadable"
            metadata = {**sidecar.get(relative, {}), "path": relative}
            yield Item(relative, signature, relative, metadata, path=str(path))

    def description(self) -> dict[str, Any]:
        return {"type": "folder", "path": str(self.folder)}


def read_sidecar(folder: Path) -> dict[str, dict[str, Any]]:
    """Per-file fields from `metadata.jsonl` or `metadata.csv` at the folder root ({} when absent).

    Raises:
        InvalidInputError: the file exists but is not valid or has no `file_name` column.
    """
    for name in SIDECAR_FILES:
        path = folder / name
        if not path.is_file():
            continue
        rows = read_table(path)
        if rows and "file_name" not in rows[0]:
            raise InvalidInputError(f"{path} has no 'file_name' column naming the image of each row.")
        return {
            Path(str(row["file_name"])).as_posix(): scalars(row, exclude={"file_name"})
            for row in rows
            if row.get("file_name")
        }
    return {}
