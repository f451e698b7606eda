"""Rows of a Hugging Face dataset: an image column (image index) or a text column (text index)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import InvalidInputError
from core.index.format.layout import Kind
from core.index.sources.base import Item, Source, is_scalar, jsonable, public_name
from core.index.sources.text_file import as_text, text_items
from core.limits import check_path, quote, quote_path


class DatasetSource(Source):
    """Rows of a Hugging Face dataset: an image column (image index) or a text column (text index).

    A dataset named by a string is streamed (`load_dataset(..., streaming=True)`), so a `limit`
    reads only that many rows. A `datasets.Dataset` or `IterableDataset` object goes through the same
    code. Images are handed over as their encoded bytes (or file path), never decoded by `datasets`:
    the build's reader opens them with the size guards of `core.images`. Class-label columns give
    their names, made readable (`Abstract_Expressionism` -> `Abstract Expressionism`).

    Args:
        dataset: A Hub name or local path (streamed), or a `datasets.Dataset` / `IterableDataset` /
            `DatasetDict` object.
        kind: Images or texts.
        column: The column of images or texts.
        split, config: Which split and configuration to read (split also picks from a DatasetDict).
        caption_column: Column stored as the "caption" field, if any.
        metadata_columns: Columns stored with each row; default: every scalar column.
        limit: Read at most this many rows (the first ones).

    Raises:
        InvalidInputError: the dataset cannot be loaded, lacks a column, or the limit is below 1.
    """

    def __init__(
        self,
        dataset: Any,
        *,
        kind: Kind | str,
        column: str,
        split: str = "train",
        config: str | None = None,
        caption_column: str | None = None,
        metadata_columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"--limit must be at least 1, got {limit}.")
        self.kind = Kind(kind)
        self.column = column
        self.split = split
        self.config = config
        self.caption_column = caption_column
        self.limit = limit
        self.name = dataset if isinstance(dataset, str) else (_info_name(dataset) or "in-memory")
        self.dataset = _load(dataset, split, config)
        self.features = getattr(self.dataset, "features", None) or {}
        self.metadata_columns = self._check_columns(metadata_columns)
        if self.kind == Kind.IMAGE:
            self.dataset = _undecoded(self.dataset, column, self.features)
        if limit is not None:
            self.dataset = _head(self.dataset, limit)

    def _check_columns(self, metadata_columns: Sequence[str] | None) -> list[str] | None:
        columns = list(self.features) or list(getattr(self.dataset, "column_names", None) or [])
        wanted = [
            self.column,
            *([self.caption_column] if self.caption_column else []),
            *(metadata_columns or []),
        ]
        missing = [name for name in wanted if columns and name not in columns]
        if missing:
            raise InvalidInputError(
                f"Dataset {quote_path(self.name)} has no column "
                f"{', '.join(map(quote, missing[:5]))}. "
                f"Columns: {', '.join(columns)}."
            )
        if metadata_columns is not None:
            return list(metadata_columns)
        if not self.features:
            return None  # decided per row: every scalar column
        return [
            name
            for name, feature in self.features.items()
            if name not in (self.column, self.caption_column) and _is_scalar_feature(feature)
        ]

    def expected_count(self) -> int | None:
        length = _length(self.dataset)
        if length is not None:
            return length
        splits = getattr(getattr(self.dataset, "info", None), "splits", None) or {}
        split = splits.get(self.split) if hasattr(splits, "get") else None
        total = getattr(split, "num_examples", None)
        if total and self.limit:
            return min(total, self.limit)
        return total or self.limit

    def items(self) -> Iterator[Item]:
        rows = ((self._metadata(n, row), row.get(self.column)) for n, row in enumerate(self.dataset))
        if self.kind == Kind.TEXT:
            yield from text_items(({**meta, "text": as_text(cell)} for meta, cell in rows), "row")
            return
        for meta, cell in rows:
            n = meta["row"]
            path, data = image_payload(cell)
            yield Item(f"row:{n}", _signature(cell), f"row {n}", meta, path=path, data=data)

    def _metadata(self, n: int, row: Mapping[str, Any]) -> dict[str, Any]:
        columns = self.metadata_columns
        if columns is None:
            columns = [name for name, value in row.items() if name != self.column and is_scalar(value)]
        metadata = {public_name(name): self._value(name, row.get(name)) for name in columns}
        if self.caption_column:
            metadata["caption"] = self._value(self.caption_column, row.get(self.caption_column))
        metadata["row"] = n
        return metadata

    def _value(self, column: str, value: Any) -> Any:
        feature = self.features.get(column) if hasattr(self.features, "get") else None
        names = getattr(feature, "names", None)
        if names is not None and isinstance(value, int) and not isinstance(value, bool):
            return readable_label(names[value]) if 0 <= value < len(names) else None
        return jsonable(value)

    def description(self) -> dict[str, Any]:
        return {
            "type": "dataset",
            "name": self.name,
            "config": self.config,
            "split": self.split,
            "image_column" if self.kind == Kind.IMAGE else "text_column": self.column,
            "caption_column": self.caption_column,
            "metadata_columns": self.metadata_columns,
            "limit": self.limit,
        }


def readable_label(name: str) -> str:
    """A class-label name for people: `Abstract_Expressionism` -> `Abstract Expressionism`,
    `vincent-van-gogh` -> `Vincent Van Gogh`, `still_life` -> `Still Life`."""
    words = name.replace("_", " ").replace("-", " ").split()
    if name == name.lower():
        words = [word[:1].upper() + word[1:] for word in words]
    return " ".join(words)


def image_payload(cell: Any) -> tuple[str | None, bytes | None]:
    """(path, bytes) of a dataset image cell: {"bytes", "path"}, bytes, a path, or a decoded image or
    array (stored losslessly as PNG bytes); (None, None) when the cell holds no image."""
    if isinstance(cell, Mapping):
        if cell.get("bytes"):
            return None, bytes(cell["bytes"])
        return (str(cell["path"]), None) if cell.get("path") else (None, None)
    if isinstance(cell, bytes):
        return None, cell
    if isinstance(cell, (str, os.PathLike)):
        return str(cell), None
    if not isinstance(cell, Image.Image) and hasattr(cell, "__array__"):
        import numpy as np

        try:
            cell = Image.fromarray(np.asarray(cell))
        except (TypeError, ValueError):
            return None, None
    if isinstance(cell, Image.Image):
        buffer = io.BytesIO()
        image = cell if cell.mode in ("RGB", "RGBA", "L", "LA", "P", "I;16", "I") else cell.convert("RGB")
        image.save(buffer, "PNG")
        return None, buffer.getvalue()
    return None, None


def _load(dataset: Any, split: str, config: str | None) -> Any:
    if not isinstance(dataset, str):
        if hasattr(dataset, "keys") and not hasattr(dataset, "features"):  # DatasetDict
            if split not in dataset:
                splits = ", ".join(dataset)
                raise InvalidInputError(f"The dataset has no split {quote(split)}. Splits: {splits}.")
            return dataset[split]
        return dataset
    import datasets

    saved = check_path(dataset, "The dataset").expanduser()
    if (saved / "state.json").is_file() or (saved / "dataset_dict.json").is_file():
        return _load(datasets.load_from_disk(str(saved)), split, config)  # made by save_to_disk
    try:
        return datasets.load_dataset(dataset, config, split=split, streaming=True)
    except Exception as error:  # datasets raises many types (FileNotFoundError, ConnectionError...)
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise InvalidInputError(
            f"Could not load dataset {quote_path(dataset)} (split {quote(split)}"
            + (f", config {quote(config)}" if config else "")
            + f"): {reason}. Check the name and split; offline, only datasets already in the Hugging Face "
            "cache (or a local folder) can be used."
        ) from None


def _info_name(dataset: Any) -> str | None:
    return getattr(getattr(dataset, "info", None), "dataset_name", None)


def _undecoded(dataset: Any, column: str, features: Mapping[str, Any]) -> Any:
    """Have `datasets` hand over the encoded image (bytes/path), so the reader does the decoding."""
    feature = features.get(column) if hasattr(features, "get") else None
    if type(feature).__name__ == "Image" and getattr(feature, "decode", False):
        import datasets

        return dataset.cast_column(column, datasets.Image(decode=False))
    return dataset


def _head(dataset: Any, limit: int) -> Any:
    length = _length(dataset)
    if length is not None:
        return dataset.select(range(min(limit, length)))
    return dataset.take(limit)


def _length(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:  # IterableDataset
        return None


def _is_scalar_feature(feature: Any) -> bool:
    return type(feature).__name__ in {"Value", "ClassLabel"}


def _signature(payload: Any) -> str:
    if isinstance(payload, Mapping):
        data, path = payload.get("bytes"), payload.get("path")
        if data:
            return hashlib.sha256(data).hexdigest()[:20]
        return _path_signature(path) if path else ""
    if isinstance(payload, bytes):
        return hashlib.sha256(payload).hexdigest()[:20]
    if isinstance(payload, (str, os.PathLike)):
        return _path_signature(payload)
    if isinstance(payload, Image.Image):
        return hashlib.sha256(payload.tobytes()).hexdigest()[:20]
    return ""


def _path_signature(path: Any) -> str:
    try:
        stat = Path(path).stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
