"""What goes into an index: the items of a folder of images, a dataset, or a text file.

Each source yields `Item`s in a stable order. An item has a `key` that names it across builds
(relative path, dataset row, or text hash) and a `signature` that changes when its content does, so
a re-run embeds only new or changed items. Payloads (decoded images, texts) load lazily, in the build's
reader thread, so listing a folder or streaming a dataset never holds every image in memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import InvalidInputError
from core.images import IMAGE_EXTENSIONS, open_image, to_rgb
from core.index.store import Kind, jsonable

TEXT_FILE_TYPES = (".txt", ".csv", ".jsonl", ".ndjson")
#: HF ImageFolder convention: a metadata file at the root of an image folder, with a `file_name` column.
SIDECAR_FILES = ("metadata.jsonl", "metadata.csv")


@dataclass
class Item:
    """One thing to index.

    Attributes:
        key: Stable name of the item across builds.
        signature: Changes when the item's content changes ("" when the key says it all).
        label: How reports name it (a relative path, "row 12", "line 3").
        metadata: User-facing fields (path or row, caption, artist...), JSON scalars only.
        load: Returns the payload: an RGB image or a text. Raises InvalidInputError or OSError when
            the item cannot be used (it is then skipped and reported). For images it is a
            `functools.partial` of a module function, so it pickles: worker processes can load it.
    """

    key: str
    signature: str
    label: str
    metadata: dict[str, Any]
    load: Callable[[], Image.Image | str] = field(repr=False)


class Source(ABC):
    """A collection of items of one kind ("image" or "text")."""

    kind: Kind
    #: True when `items()` is cheap to run twice (no payload is read): the build then counts the
    #: items to embed before starting, for an exact progress total.
    listable: bool = False

    @abstractmethod
    def items(self) -> Iterator[Item]:
        """The items, in a stable order."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON description recorded as the manifest's `source`."""

    def identity(self) -> dict[str, Any]:
        """The part of `describe()` that must match for a re-run to update an index rather than replace it."""
        return identity_of(self.describe())

    def expected_count(self) -> int | None:
        """Number of items if known without reading them (for progress), else None."""
        return None


def identity_of(description: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying part of a source description (a manifest's `source`): other options, such as
    a row limit or the metadata columns, may change between runs of one index."""
    keys = ("type", "path", "name", "config", "split", "image_column", "text_column")
    return {key: value for key, value in description.items() if key in keys}


# --------------------------------------------------------------------------------------------------
# Folders


class FolderSource(Source):
    """Every image file under a folder (recursive; hidden files and folders, and `skip`, left out)."""

    kind: Kind = "image"
    listable = True

    def __init__(self, folder: str | os.PathLike[str], skip: Path | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            raise InvalidInputError(f"The image folder {self.folder} does not exist or is not a folder.")
        self.skip = skip.resolve() if skip else None
        self._paths: list[Path] | None = None

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
            yield Item(relative, signature, relative, metadata, partial(open_image, path))

    def describe(self) -> dict[str, Any]:
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
        rows = _read_table(path)
        if rows and "file_name" not in rows[0]:
            raise InvalidInputError(f"{path} has no 'file_name' column naming the image of each row.")
        return {
            Path(str(row["file_name"])).as_posix(): _scalars(row, exclude={"file_name"})
            for row in rows
            if row.get("file_name")
        }
    return {}


# --------------------------------------------------------------------------------------------------
# Text files


class TextFileSource(Source):
    """Texts from a `.txt` file (one per non-empty line) or a `.csv` / `.jsonl` file (one column).

    Other CSV/JSONL columns become metadata. Texts are keyed by their content, so editing the file
    and re-running embeds only the new texts.
    """

    kind: Kind = "text"
    listable = True

    def __init__(self, path: str | os.PathLike[str], text_column: str = "text") -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise InvalidInputError(f"The text file {self.path} does not exist.")
        if self.path.suffix.lower() not in TEXT_FILE_TYPES:
            raise InvalidInputError(
                f"{self.path.name}: use a .txt file (one text per line), a .csv or a .jsonl file."
            )
        self.text_column = text_column
        self._rows: list[dict[str, Any]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            if self.path.suffix.lower() == ".txt":
                lines = self.path.read_text(encoding="utf-8-sig").splitlines()
                self._rows = [
                    {"text": line.strip(), "line": n} for n, line in enumerate(lines, 1) if line.strip()
                ]
            else:
                table = _read_table(self.path)
                if table and self.text_column not in table[0]:
                    raise InvalidInputError(
                        f"{self.path.name} has no column '{self.text_column}'. Columns: "
                        f"{', '.join(table[0])}. Choose one with --text-column."
                    )
                self._rows = [
                    {
                        **_scalars(row, exclude={self.text_column}),
                        "text": _text(row.get(self.text_column)),
                        "row": n,
                    }
                    for n, row in enumerate(table)
                ]
        return self._rows

    def expected_count(self) -> int:
        return len(self.rows())

    def items(self) -> Iterator[Item]:
        yield from _text_items(self.rows(), "line" if self.path.suffix.lower() == ".txt" else "row")

    def describe(self) -> dict[str, Any]:
        column = None if self.path.suffix.lower() == ".txt" else self.text_column
        return {"type": "file", "path": str(self.path), "text_column": column}


def _text_items(
    rows: Sequence[Mapping[str, Any]] | Iterator[Mapping[str, Any]], where: str
) -> Iterator[Item]:
    seen: Counter[str] = Counter()
    for row in rows:
        text = row["text"]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
        seen[digest] += 1
        label = f"{where} {row.get(where)}"
        yield Item(f"text:{digest}#{seen[digest]}", "", label, dict(row), lambda text=text: _nonempty(text))


def _nonempty(text: str) -> str:
    if not text.strip():
        raise InvalidInputError("empty text")
    return text


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# --------------------------------------------------------------------------------------------------
# Datasets


class DatasetSource(Source):
    """Rows of a Hugging Face dataset: an image column (image index) or a text column (text index).

    A dataset named by a string is streamed (`load_dataset(..., streaming=True)`), so a `limit`
    reads only that many rows. A `datasets.Dataset` or `IterableDataset` object goes through the same
    code. Images are read from their encoded bytes by `core.images.open_image` (size guards, corrupt
    files skipped), never decoded by `datasets` itself. Class-label columns give their names, made
    readable (`Abstract_Expressionism` -> `Abstract Expressionism`, `claude-monet` -> `Claude Monet`).
    """

    def __init__(
        self,
        dataset: Any,
        *,
        kind: Kind,
        column: str,
        split: str = "train",
        config: str | None = None,
        caption_column: str | None = None,
        metadata_columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"--limit must be at least 1, got {limit}.")
        self.kind = kind
        self.column = column
        self.split = split
        self.config = config
        self.caption_column = caption_column
        self.limit = limit
        self.name = dataset if isinstance(dataset, str) else (_info_name(dataset) or "in-memory")
        self.dataset = _load(dataset, split, config)
        self.features = getattr(self.dataset, "features", None) or {}
        self.metadata_columns = self._check_columns(metadata_columns)
        if kind == "image":
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
                f"Dataset '{self.name}' has no column {', '.join(repr(m) for m in missing)}. "
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
        rows = (
            self._metadata(n, row) | {"_payload": row.get(self.column)} for n, row in enumerate(self.dataset)
        )
        if self.kind == "text":
            yield from _text_items(
                (
                    {**{k: v for k, v in row.items() if k != "_payload"}, "text": _text(row["_payload"])}
                    for row in rows
                ),
                "row",
            )
            return
        for row in rows:
            payload = row.pop("_payload")
            n = row["row"]
            yield Item(f"row:{n}", _signature(payload), f"row {n}", row, partial(_image, payload))

    def _metadata(self, n: int, row: Mapping[str, Any]) -> dict[str, Any]:
        columns = self.metadata_columns
        if columns is None:
            columns = [name for name, value in row.items() if name != self.column and _is_scalar(value)]
        metadata = {_public(name): self._value(name, row.get(name)) for name in columns}
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

    def describe(self) -> dict[str, Any]:
        return {
            "type": "dataset",
            "name": self.name,
            "config": self.config,
            "split": self.split,
            "image_column" if self.kind == "image" else "text_column": self.column,
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


def _load(dataset: Any, split: str, config: str | None) -> Any:
    if not isinstance(dataset, str):
        if hasattr(dataset, "keys") and not hasattr(dataset, "features"):  # DatasetDict
            if split not in dataset:
                raise InvalidInputError(f"The dataset has no split '{split}'. Splits: {', '.join(dataset)}.")
            return dataset[split]
        return dataset
    import datasets

    saved = Path(dataset).expanduser()
    if (saved / "state.json").is_file() or (saved / "dataset_dict.json").is_file():
        return _load(datasets.load_from_disk(str(saved)), split, config)  # made by save_to_disk
    try:
        return datasets.load_dataset(dataset, config, split=split, streaming=True)
    except Exception as error:  # datasets raises many types (FileNotFoundError, ConnectionError...)
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise InvalidInputError(
            f"Could not load dataset '{dataset}' (split '{split}'"
            + (f", config '{config}'" if config else "")
            + f"): {reason}. Check the name and split; offline, only datasets already in the Hugging Face "
            "cache (or a local folder) can be used."
        ) from None


def _info_name(dataset: Any) -> str | None:
    return getattr(getattr(dataset, "info", None), "dataset_name", None)


def _undecoded(dataset: Any, column: str, features: Mapping[str, Any]) -> Any:
    """Have `datasets` hand over the encoded image (bytes/path), so open_image does the decoding."""
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


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _public(name: str) -> str:
    """Columns starting with '_' would clash with the index's own fields."""
    return "column" + name if name.startswith("_") else name


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


def _image(payload: Any) -> Image.Image:
    """Decode a dataset image cell: {"bytes", "path"}, bytes, a path, a PIL image or an array."""
    if isinstance(payload, Mapping):
        if payload.get("bytes"):
            return open_image(payload["bytes"])
        if payload.get("path"):
            return open_image(payload["path"])
    elif isinstance(payload, (bytes, str, os.PathLike)):
        return open_image(payload)
    elif isinstance(payload, Image.Image):
        return to_rgb(payload)
    elif hasattr(payload, "__array__"):
        import numpy as np

        return to_rgb(Image.fromarray(np.asarray(payload)))
    raise InvalidInputError("the row has no image")


# --------------------------------------------------------------------------------------------------
# Tables


def _read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a .csv or .jsonl file.

    Raises:
        InvalidInputError: a line that is not a JSON object, or an undecodable file.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"Cannot read {path}: {error}.") from None
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise InvalidInputError(f"{path.name} line {n} is not valid JSON ({error}).") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{path.name} line {n} is not a JSON object.")
        rows.append(row)
    return rows


def _scalars(row: Mapping[str, Any], exclude: set[str]) -> dict[str, Any]:
    return {_public(str(k)): jsonable(v) for k, v in row.items() if k not in exclude and _is_scalar(v)}
