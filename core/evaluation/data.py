"""What an evaluation reads: labelled images (zero-shot) or images with captions (retrieval).

Folders follow the Hugging Face ImageFolder convention: one sub-folder per class (`cat/`, `dog/`...,
class names from the folder names with `_` as spaces), or images with a `metadata.jsonl` /
`metadata.csv` whose `file_name` column names each image, next to its caption(s). Reading lists the
files and checks the structure; images are decoded only when a model embeds them, and the ones that
cannot be read are skipped and listed then.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.evaluation.prompts import folder_class_names
from core.images import IMAGE_EXTENSIONS
from core.limits import check_path, quote_path
from core.tables import read_table

CAPTION_FILES = ("metadata.jsonl", "metadata.csv")
#: Captions are cut here: the text towers read at most 64 (SigLIP) or 77 (CLIP) tokens anyway.
MAX_CAPTION_CHARS = 1000
EXTENSIONS_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))


@dataclass(frozen=True)
class ImageRef:
    """One image to embed: a file, or the encoded bytes of a dataset cell. `name` names it in reports."""

    name: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)


def too_many_images(count: int, most: int) -> str:
    return (
        f"The upload holds {count:,} images; one run evaluates at most {most:,} "
        "(SIGLIP_PROJECTS_EVAL_MAX_IMAGES). Upload a sample, or run `python app.py eval` on your "
        "own machine, which has no limit."
    )


@dataclass(frozen=True)
class Limits:
    """Most images and classes one run takes (None: no limit, as on the command line)."""

    max_images: int | None = None
    max_classes: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.eval_max_images, settings.eval_max_classes)

    def check(self, images: int, classes: int | None = None) -> None:
        """Raises: InvalidInputError: over a limit."""
        if self.max_images is not None and images > self.max_images:
            raise InvalidInputError(too_many_images(images, self.max_images))
        if self.max_classes is not None and classes is not None and classes > self.max_classes:
            raise InvalidInputError(
                f"The upload has {classes:,} classes; one run takes at most {self.max_classes:,} "
                "(SIGLIP_PROJECTS_EVAL_MAX_CLASSES). Keep fewer class folders."
            )


@dataclass(frozen=True)
class ClassificationData:
    """Images with one class each. `labels[i]` is the index in `classes` of `images[i]`."""

    source: str
    classes: tuple[str, ...]
    images: Sequence[ImageRef]
    labels: tuple[int, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrievalData:
    """Images and their captions. `caption_image[j]` is the index in `images` of caption j's image."""

    source: str
    images: Sequence[ImageRef]
    captions: tuple[str, ...]
    caption_image: tuple[int, ...]
    notes: tuple[str, ...] = ()


#: The command line's limits: none.
NO_LIMITS = Limits()


def check_classes(classes: Sequence[str], source: str) -> None:
    """Raises: InvalidInputError: fewer than two classes."""
    if len(classes) < 2:
        only = f" ('{classes[0]}')" if classes else ""
        raise InvalidInputError(
            f"{source} has only {len(classes)} class{only}: zero-shot classification needs at least two. "
            "Add a sub-folder of images for each other class."
        )


def unique_names(classes: Sequence[str]) -> tuple[str, ...]:
    """Class names made unique for reports: a repeated name gets " (2)", " (3)"... (CLIP's ImageNet
    names have two `missile` and two `sunglasses` classes; their prompts stay the same, as in CLIP)."""
    seen: dict[str, int] = {}
    unique = []
    for name in classes:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(unique)


# --------------------------------------------------------------------------------------------------
# Folders


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name != "__MACOSX"


def image_files(folder: Path) -> list[Path]:
    """Every visible image file under `folder` (recursive), in a stable order."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if _visible(Path(d)))
        found += [
            Path(root) / name
            for name in sorted(files)
            if _visible(Path(name)) and Path(name).suffix.lower() in IMAGE_EXTENSIONS
        ]
    return found


def _folder(folder: str | os.PathLike[str]) -> Path:
    path = check_path(folder, "The folder").expanduser()
    if not path.is_dir():
        raise InvalidInputError(f"The folder {quote_path(path)} does not exist or is not a folder.")
    return path


def read_class_folder(
    folder: str | os.PathLike[str], limits: Limits = NO_LIMITS, label: str | None = None
) -> ClassificationData:
    """Read an image-classification folder: one sub-folder of images per class.

    Args:
        folder: The folder.
        limits: Most images and classes (the app's; none by default).
        label: How messages name the folder (default: its path).

    Raises:
        InvalidInputError: no class folders, one class, a class folder without images, over a limit.
    """
    root = _folder(folder)
    where = label or f"The folder {root}"
    class_dirs = sorted((path for path in root.iterdir() if path.is_dir() and _visible(path)), key=str)
    loose = [path for path in root.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS]
    if not class_dirs:
        what = "holds images but no class folders" if loose else "holds no class folders"
        raise InvalidInputError(
            f"{where} {what}. Put each class's images in a sub-folder named after the class "
            "(cat/, dog/, golden_retriever/...)."
        )
    classes, convention = folder_class_names([path.name for path in class_dirs])
    check_classes(classes, where)
    limits.check(0, len(classes))
    images: list[ImageRef] = []
    labels: list[int] = []
    for number, class_dir in enumerate(class_dirs):
        files = image_files(class_dir)
        if not files:
            raise InvalidInputError(
                f"The class folder '{class_dir.name}' holds no image (looked for {EXTENSIONS_TEXT}). "
                "Add images to it or remove it."
            )
        images += [ImageRef(path.relative_to(root).as_posix(), path=path) for path in files]
        labels += [number] * len(files)
        limits.check(len(images))
    notes = [convention] if convention else []
    if loose:
        notes.append(f"{len(loose)} image(s) directly in the folder belong to no class and were left out.")
    return ClassificationData(where, tuple(classes), tuple(images), tuple(labels), tuple(notes))


def read_caption_folder(
    folder: str | os.PathLike[str],
    caption_column: str = "caption",
    limits: Limits = NO_LIMITS,
    label: str | None = None,
) -> RetrievalData:
    """Read images with captions: `metadata.jsonl` or `metadata.csv` at the folder root, with a
    `file_name` column and a caption column. A JSONL caption may be a list (several captions per
    image), and several rows may name one image.

    Raises:
        InvalidInputError: no captions file or column, a `file_name` outside the folder, no captions,
            over a limit.
    """
    root = _folder(folder)
    where = label or f"The folder {root}"
    table = next((root / name for name in CAPTION_FILES if (root / name).is_file()), None)
    if table is None:
        raise InvalidInputError(
            f"{where} has no metadata.jsonl or metadata.csv. Retrieval needs one, with a 'file_name' "
            f"column naming each image and a '{caption_column}' column with its caption."
        )
    rows = read_table(table)
    if rows and ("file_name" not in rows[0] or caption_column not in rows[0]):
        raise InvalidInputError(
            f"{table.name} needs the columns 'file_name' and '{caption_column}'; it has {', '.join(rows[0])}."
        )
    by_file: dict[str, list[str]] = {}
    missing: list[str] = []
    for row in rows:
        name = str(row.get("file_name") or "").strip()
        path = (root / name).resolve()
        if not name or root.resolve() not in path.parents:
            raise InvalidInputError(f"{table.name}: the file_name '{name}' is not a file inside the folder.")
        texts = [text for text in caption_list(row.get(caption_column)) if text]
        if not path.is_file():
            missing.append(name)
        elif texts:
            by_file.setdefault(Path(name).as_posix(), []).extend(texts)
    if not by_file:
        raise InvalidInputError(f"{table.name} names no existing image with a non-empty '{caption_column}'.")
    limits.check(len(by_file))
    images = tuple(ImageRef(name, path=root / name) for name in by_file)
    captions = [(n, text) for n, texts in enumerate(by_file.values()) for text in texts]
    notes = [f"{len(missing)} file(s) named in {table.name} do not exist: {', '.join(missing[:5])}."]
    return RetrievalData(
        where,
        images,
        tuple(text for _, text in captions),
        tuple(n for n, _ in captions),
        tuple(notes if missing else []),
    )


def caption_list(value: Any) -> list[str]:
    """A caption cell as a list of trimmed captions: a string, or a list of strings (COCO style)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return [" ".join(str(text).split())[:MAX_CAPTION_CHARS] for text in values if text is not None]
