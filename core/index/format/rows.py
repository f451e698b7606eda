"""The metadata rows of a large index, read on access from its memory-mapped `metadata.jsonl`.

Parsed into Python dicts, a row takes about 1.1 KB of memory (measured: 1M rows of a folder index,
+1,054 MB RSS and 3.9 s), so a 5M-row index would need 5.5 GB before its first search. `LazyRows`
keeps only the offset of each line (8 bytes per row) and parses a row when it is asked for; the
file's pages stay in the OS page cache. It is a read-only sequence of dicts, like the list it replaces.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

#: Metadata files larger than this are read on access (about 250,000 rows of a folder index).
LAZY_ROWS_BYTES = 64 * 2**20
#: Bytes scanned at a time for line ends (bounded memory).
_SCAN_BYTES = 64 * 2**20


class LazyRows(Sequence):
    """Rows of a JSONL file (as `IndexStore.commit` writes it), parsed on access; empty lines are not rows.

    Raises (when made):
        OSError: the file cannot be read.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._starts, self._ends = _line_bounds(self._map, size)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return json.loads(self._map[self._starts[index] : self._ends[index]])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[n] for n in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment] - mutable-looking sequences do not hash


def _line_bounds(data: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) offsets of the non-blank lines of `data`, found a chunk at a time."""
    ends = [
        np.flatnonzero(np.frombuffer(data, np.uint8, min(_SCAN_BYTES, size - first), first) == 10) + first
        for first in range(0, size, _SCAN_BYTES)
    ]
    newline = np.concatenate([*ends, np.array([size], np.int64)]).astype(np.int64)
    starts = np.concatenate([[0], newline[:-1] + 1]).astype(np.int64)
    keep = newline > starts  # drops empty lines (and the end after a final newline)
    return starts[keep], newline[keep]


def read_rows(path: Path) -> Sequence[dict[str, Any]]:
    """The rows of a metadata file: a list, or `LazyRows` above `LAZY_ROWS_BYTES`.

    Raises:
        OSError: the file cannot be read. ValueError: a line is not JSON (small files only; a
            large file's rows are parsed on access).
    """
    if path.stat().st_size > LAZY_ROWS_BYTES:
        return LazyRows(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
