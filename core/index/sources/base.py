"""What goes into an index: items with plain fields, from sources of one kind.

Each source yields `Item`s in a stable order. An item has a `key` that names it across builds (relative
path, dataset row, or text hash) and a `signature` that changes when its content does, so a re-run
embeds only new or changed items. Its payload is a path, encoded image bytes or a text: plain data
that pickles (worker processes, Ray actors) and prints. Decoding happens in the build's reader, so
listing a folder or streaming a dataset never holds every image in memory.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from core.index.format.layout import Kind


@dataclass(frozen=True)
class Item:
    """One thing to index.

    Attributes:
        key: Stable name of the item across builds.
        signature: Changes when the item's content changes ("" when the key says it all).
        label: How reports name it (a relative path, "row 12", "line 3").
        metadata: User-facing fields (path or row, caption, artist...), JSON scalars only.
        path: The image file, for images read from disk.
        data: The encoded image file's bytes, for images that come as bytes (dataset cells).
        text: The text, for text items.
    """

    key: str
    signature: str
    label: str
    metadata: dict[str, Any]
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)
    text: str | None = None

    def without_payload(self) -> Item:
        """The same item without its bytes or text (what a build keeps of every item it has seen)."""
        return replace(self, data=None, text=None)


class Source(ABC):
    """A collection of items of one kind."""

    kind: Kind
    #: True when `items()` is cheap to run twice (no payload is read): the build then counts the
    #: items to embed before starting, for an exact progress total.
    listable: bool = False

    @abstractmethod
    def items(self) -> Any:  # Iterator[Item]
        """The items, in a stable order."""

    @abstractmethod
    def description(self) -> dict[str, Any]:
        """JSON description recorded as the manifest's `source`."""

    def identity(self) -> dict[str, Any]:
        """The part of `description()` that must match for a re-run to update an index rather than
        replace it."""
        return identity_of(self.description())

    def expected_count(self) -> int | None:
        """Number of items if known without reading them (for progress), else None."""
        return None

    def excluding(self, folder: Path) -> Source:
        """This source without anything under `folder` (the index folder, when it lies inside)."""
        return self


def identity_of(description: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying part of a source description (a manifest's `source`): other options, such as
    a row limit or the metadata columns, may change between runs of one index."""
    keys = ("type", "path", "name", "config", "split", "image_column", "text_column")
    return {key: value for key, value in description.items() if key in keys}


def source_label(description: Mapping[str, Any]) -> str:
    """A source description in words: `folder /photos`, `dataset 'x' (split train, column image)`."""
    if description.get("type") == "folder":
        return f"folder {description.get('path')}"
    if description.get("type") == "file":
        return f"file {description.get('path')}"
    if description.get("type") == "upload":
        return "images uploaded in the app"
    column = description.get("image_column") or description.get("text_column")
    return f"dataset '{description.get('name')}' (split {description.get('split')}, column {column})"


def jsonable(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN/inf as None, anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return jsonable(item())
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def public_name(name: str) -> str:
    """Columns starting with '_' would clash with the index's own fields."""
    return "column" + name if name.startswith("_") else name


#: Metadata an item keeps: at most this many fields, names of at most `MAX_NAME_CHARS` characters and
#: texts of at most `MAX_VALUE_CHARS` (longer ones end in `…`). Titles, captions and tags fit; a 45 MB
#: title, which every search hit's caption would repeat, does not.
MAX_FIELDS = 64
MAX_NAME_CHARS = 100
MAX_VALUE_CHARS = 2000


def bounded(value: Any) -> Any:
    """A metadata value within `MAX_VALUE_CHARS` characters."""
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[: MAX_VALUE_CHARS - 1] + "…"
    return value


def scalars(row: Mapping[str, Any], exclude: set[str]) -> dict[str, Any]:
    """The JSON scalar fields of a table row, as metadata (bounded: see `MAX_FIELDS`)."""
    fields = [(str(k), v) for k, v in row.items() if k not in exclude and is_scalar(v)]
    return {
        public_name(name[:MAX_NAME_CHARS]): bounded(jsonable(value)) for name, value in fields[:MAX_FIELDS]
    }
