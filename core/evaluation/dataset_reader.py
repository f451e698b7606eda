"""Evaluation data from a Hugging Face dataset: an image column with a label column or a caption column.

A saved dataset (`save_to_disk`) or a Hub name without `--limit` is read as Arrow files on disk, memory
mapped: images are read one at a time as the models embed them, so ImageNet's 50,000 validation images
never sit in memory at once. With `--limit` a Hub dataset is streamed and only those rows are read.
Images reach the core's own image loader as encoded bytes, never decoded by `datasets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

from core.errors import InvalidInputError
from core.evaluation.data import (
    NO_LIMITS,
    ClassificationData,
    ImageRef,
    Limits,
    RetrievalData,
    caption_list,
    check_classes,
)
from core.limits import check_path


class DatasetImages(Sequence[ImageRef]):
    """The image column of a map-style dataset as a lazy sequence of `ImageRef`s (one row read per item)."""

    def __init__(self, dataset: Any, column: str, rows: Sequence[int] | None = None) -> None:
        self.dataset = dataset
        self.column = column
        self.rows = range(len(dataset)) if rows is None else rows

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, positions: Sequence[int]) -> DatasetImages:
        """The images at `positions` of this sequence, still unread."""
        return DatasetImages(self.dataset, self.column, [self.rows[n] for n in positions])

    @overload
    def __getitem__(self, index: int) -> ImageRef: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ImageRef]: ...
    def __getitem__(self, index: int | slice) -> ImageRef | Sequence[ImageRef]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self)))]
        row = self.rows[index]
        return image_ref(f"row {row}", self.dataset[row][self.column])


def image_ref(name: str, cell: Any) -> ImageRef:
    """An image cell (`{"bytes", "path"}`, bytes or a path) as an ImageRef (empty when there is none)."""
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return ImageRef(name, data=cell["bytes"])
        cell = cell.get("path")
    if isinstance(cell, bytes):
        return ImageRef(name, data=cell)
    return ImageRef(name, path=Path(cell) if isinstance(cell, str) and cell else None)


def open_dataset(
    name: str, *, split: str, config: str | None, limit: int | None, columns: Sequence[str]
) -> tuple[Any, Any]:
    """Load a dataset split with its image column undecoded; return (rows, features).

    Raises:
        InvalidInputError: it cannot be loaded, lacks a column or the split, or `limit` < 1.
    """
    import datasets

    if limit is not None and limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {limit}.")
    saved = check_path(name, "The dataset").expanduser()
    try:
        if (saved / "state.json").is_file() or (saved / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(saved))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise InvalidInputError(
                        f"The dataset has no split '{split}'. Splits: {', '.join(loaded)}."
                    )
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(name, config, split=split, streaming=limit is not None)
    except InvalidInputError:
        raise
    except Exception as error:  # datasets raises many types (FileNotFoundError, ConnectionError...)
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise InvalidInputError(
            f"Could not load dataset '{name}' (split '{split}'): {reason}. Offline, only datasets in the "
            "Hugging Face cache or saved with save_to_disk can be read."
        ) from None
    features = loaded.features or {}
    missing = [column for column in columns if features and column not in features]
    if missing:
        raise InvalidInputError(
            f"Dataset '{name}' has no column {', '.join(map(repr, missing))}. Columns: {', '.join(features)}."
        )
    if type(features.get(columns[0])).__name__ == "Image":
        loaded = loaded.cast_column(columns[0], datasets.Image(decode=False))
    if limit is not None:
        loaded = (
            loaded.take(limit)
            if not hasattr(loaded, "select")
            else loaded.select(range(min(limit, len(loaded))))
        )
    return loaded, features


def _images_and_column(loaded: Any, image_column: str, other: str) -> tuple[Sequence[ImageRef], list[Any]]:
    if hasattr(loaded, "__len__") and hasattr(loaded, "select"):  # map-style: Arrow on disk
        return DatasetImages(loaded, image_column), list(loaded[other])
    rows = list(loaded)  # streamed (with a limit): the rows read are all there is
    return [image_ref(f"row {n}", row[image_column]) for n, row in enumerate(rows)], [
        row[other] for row in rows
    ]


def read_classification_dataset(
    name: str,
    *,
    label_column: str,
    image_column: str = "image",
    split: str = "train",
    config: str | None = None,
    limit: int | None = None,
    limits: Limits = NO_LIMITS,
) -> ClassificationData:
    """Read labelled images from a dataset. ClassLabel names become the class names (`_` as spaces);
    a column of strings gives its sorted distinct values.

    Raises:
        InvalidInputError: see `open_dataset`; fewer than two classes; over a limit.
    """
    loaded, features = open_dataset(
        name, split=split, config=config, limit=limit, columns=(image_column, label_column)
    )
    images, values = _images_and_column(loaded, image_column, label_column)
    names = getattr(features.get(label_column), "names", None)
    if names is None:
        names = sorted({str(value) for value in values if value is not None})
        labels = [names.index(str(value)) if value is not None else -1 for value in values]
    else:
        labels = [int(value) if value is not None else -1 for value in values]
    keep = [n for n, label in enumerate(labels) if 0 <= label < len(names)]
    if len(keep) < len(labels):
        labels = [labels[n] for n in keep]
        images = images.subset(keep) if isinstance(images, DatasetImages) else [images[n] for n in keep]
    classes = tuple(" ".join(str(name).replace("_", " ").split()) for name in names)
    source = f"Dataset '{name}' (split {split})"
    check_classes(classes, source)
    limits.check(len(labels), len(classes))
    notes = (
        (f"{len(values) - len(keep)} row(s) without a label were left out.",)
        if len(keep) < len(values)
        else ()
    )
    return ClassificationData(source, classes, images, tuple(labels), notes)


def read_retrieval_dataset(
    name: str,
    *,
    caption_column: str = "caption",
    image_column: str = "image",
    split: str = "train",
    config: str | None = None,
    limit: int | None = None,
    limits: Limits = NO_LIMITS,
) -> RetrievalData:
    """Read images with captions from a dataset; a caption cell may hold a list of captions.

    Raises:
        InvalidInputError: see `open_dataset`; no caption; over a limit.
    """
    loaded, _ = open_dataset(
        name, split=split, config=config, limit=limit, columns=(image_column, caption_column)
    )
    images, cells = _images_and_column(loaded, image_column, caption_column)
    limits.check(len(images))
    pairs = [(n, text) for n, cell in enumerate(cells) for text in caption_list(cell) if text]
    if not pairs:
        raise InvalidInputError(f"Dataset '{name}' has no non-empty caption in '{caption_column}'.")
    return RetrievalData(
        f"Dataset '{name}' (split {split})", images, tuple(t for _, t in pairs), tuple(n for n, _ in pairs)
    )
