"""Texts from a `.txt` file (one per line) or one column of a `.csv` / `.jsonl` file."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from core.errors import InvalidInputError
from core.index.format.layout import Kind
from core.index.sources.base import Item, Source, scalars
from core.limits import check_path, quote, quote_path
from core.tables import read_table

TEXT_FILE_TYPES = (".txt", ".csv", ".jsonl", ".ndjson")


class TextFileSource(Source):
    """Texts from a `.txt` file (one per non-empty line) or a `.csv` / `.jsonl` file (one column).

    Other CSV/JSONL columns become metadata. Texts are keyed by their content, so editing the file
    and re-running embeds only the new texts.

    Raises:
        InvalidInputError: a missing file or an unknown type.
    """

    kind = Kind.TEXT
    listable = True

    def __init__(self, path: str | os.PathLike[str], text_column: str = "text") -> None:
        self.path = check_path(path, "The text file").expanduser().resolve()
        if not self.path.is_file():
            raise InvalidInputError(f"The text file {quote_path(self.path)} does not exist.")
        if self.path.suffix.lower() not in TEXT_FILE_TYPES:
            raise InvalidInputError(
                f"{self.path.name}: use a .txt file (one text per line), a .csv or a .jsonl file."
            )
        self.text_column = text_column
        self._rows: list[dict[str, Any]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The file's texts with their metadata (`text` and `line` or `row`, other columns).

        Raises:
            InvalidInputError: the text column is missing, or the file is not valid.
        """
        if self._rows is None:
            if self.path.suffix.lower() == ".txt":
                lines = self.path.read_text(encoding="utf-8-sig").splitlines()
                self._rows = [
                    {"text": line.strip(), "line": n} for n, line in enumerate(lines, 1) if line.strip()
                ]
            else:
                table = read_table(self.path)
                if table and self.text_column not in table[0]:
                    raise InvalidInputError(
                        f"{self.path.name} has no column {quote(self.text_column)}. Columns: "
                        f"{', '.join(table[0])}. Choose one with --text-column."
                    )
                self._rows = [
                    {
                        **scalars(row, exclude={self.text_column}),
                        "text": as_text(row.get(self.text_column)),
                        "row": n,
                    }
                    for n, row in enumerate(table)
                ]
        return self._rows

    def expected_count(self) -> int:
        return len(self.rows())

    def items(self) -> Iterator[Item]:
        yield from text_items(self.rows(), "line" if self.path.suffix.lower() == ".txt" else "row")

    def description(self) -> dict[str, Any]:
        column = None if self.path.suffix.lower() == ".txt" else self.text_column
        return {"type": "file", "path": str(self.path), "text_column": column}


def text_items(rows: Iterable[Mapping[str, Any]], where: str) -> Iterator[Item]:
    """Items of rows holding a `text`: keyed by the text's hash and its occurrence, so duplicates are
    separate items and an edited file re-embeds only new texts."""
    seen: Counter[str] = Counter()
    for row in rows:
        text = row["text"]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
        seen[digest] += 1
        label = f"{where} {row.get(where)}"
        yield Item(f"text:{digest}#{seen[digest]}", "", label, dict(row), text=text)


def as_text(value: Any) -> str:
    return "" if value is None else str(value).strip()
