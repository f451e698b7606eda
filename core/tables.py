"""Reading the small tables people put beside their images: `metadata.csv` / `metadata.jsonl`, caption
files, text files of an index. One reader for index sources, uploads and evaluations.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a .csv or .jsonl file (a UTF-8 byte-order mark is allowed).

    Raises:
        InvalidInputError: unreadable or not UTF-8, or a JSONL line that is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InvalidInputError(f"Cannot read {path.name}: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"Cannot read {path.name}: it is not UTF-8 text.") from None
    return parse_table(text, path.name)


def parse_table(text: str, name: str) -> list[dict[str, Any]]:
    """Rows of the text of a .csv file (by `name`) or of a .jsonl file.

    Raises:
        InvalidInputError: a JSONL line that is not a JSON object, or a CSV file csv cannot read.
    """
    if name.lower().endswith(".csv"):
        try:
            return list(csv.DictReader(io.StringIO(text)))
        except csv.Error as error:  # a field over csv's own limit (128 KB), a stray NUL...
            raise InvalidInputError(f"{name} could not be read as CSV ({error}).") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise InvalidInputError(f"{name} line {n} is not valid JSON ({error}).") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{name} line {n} is not a JSON object.")
        rows.append(row)
    return rows
