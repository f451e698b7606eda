"""What one request may ask for, and how messages quote what it sent.

The models read a bounded prefix of any text: SigLIP-type text towers 64 tokens, CLIP and NLLB-CLIP
77, multilingual CLIP's DistilBERT 128; the rest is cut by their tokenizers. `MAX_TEXT_CHARS` is set
so that no text loses a token any model reads, even in the worst case: with the real CLIP BPE, 77
tokens of English prose spanned at most 408 characters (128 tokens: 654), and a text made only of the
longest English words that are single tokens needs 1,015 characters for 77 tokens and 1,629 for 128
(`python -m benchmarks.text_limits`). Longer texts cost tokenizer time and memory for nothing, so
request inputs over a limit are refused with a message that says why, before any tokenizer runs, and
`Encoder.embed_texts` cuts any longer text at `MAX_TEXT_CHARS` as a safety net (an index of long
captions still builds, with the same embeddings).

Messages quote user input through `quote`, which shows at most a short prefix on one line.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Sequence
from pathlib import Path

from core.errors import InvalidInputError

#: Longest text a model is given, and longest query accepted (see the module docstring).
MAX_TEXT_CHARS = 2_000
#: Most labels compared at once, and the longest label: labels are names, not paragraphs.
MAX_LABELS = 50
MAX_LABEL_CHARS = 300
#: Longest labels field as typed (all labels, separators and spaces): 50 labels of 300 characters fit.
MAX_LABELS_FIELD_CHARS = 16_000
#: Longest template: a sentence around the label. Template and label together stay far under
#: `MAX_TEXT_CHARS`.
MAX_TEMPLATE_CHARS = 200
#: Characters of user input a message quotes before cutting it (paths and dataset names: more).
QUOTE_CHARS = 40
QUOTE_PATH_CHARS = 200
#: Longest path, and longest part of a path in bytes, that Linux looks up (PATH_MAX, NAME_MAX):
#: beyond them `stat` fails with "File name too long" instead of saying the file is missing.
MAX_PATH_CHARS = 4096
MAX_PATH_PART_BYTES = 255

_repr = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_repr.maxlevel, _repr.maxstring, _repr.maxother = 2, QUOTE_CHARS, QUOTE_CHARS
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = 4


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """`value` as a message shows it: quoted, on one line, cut after `limit` characters.

    A string longer than `limit` ends with `…` and its length: `'xxxx…' (20,000,000 characters)`;
    control characters are escaped (`\\n`), other characters (CJK, emoji) stay as typed. Anything else
    is shown as a bounded `repr` (nested values and long containers are elided).
    """
    if not isinstance(value, str):
        shown = _repr.repr(value)
        return shown if len(shown) <= 2 * limit else shown[: 2 * limit] + "…"
    escaped = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in value[:limit])
    if len(value) <= limit:
        return f"'{escaped}'"
    return f"'{escaped}…' ({len(value):,} characters)"


def quote_path(path: str | os.PathLike[str]) -> str:
    """A path or dataset name as a message shows it: like `quote`, with room for a long path."""
    return quote(os.fspath(path), QUOTE_PATH_CHARS)


def check_text(text: object, what: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Return `text` if it is a string of at most `limit` characters.

    Args:
        text: The user's input.
        what: How the message names it, capitalised ("The query", "The template").
        limit: Most characters accepted.

    Raises:
        InvalidInputError: not a string, or longer than `limit`; the message gives the limit.
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be text, got {type(text).__name__} {quote(text)}.")
    if len(text) > limit:
        raise InvalidInputError(
            f"{what} is {len(text):,} characters long; at most {limit:,} are accepted. Shorten it."
        )
    return text


def check_query(query: object) -> str:
    """Return a search query if it is a string of at most `MAX_TEXT_CHARS` characters.

    Raises:
        InvalidInputError: not a string, or too long (the models read only its first tokens).
    """
    if isinstance(query, str) and len(query) > MAX_TEXT_CHARS:
        raise InvalidInputError(
            f"The query is {len(query):,} characters long; at most {MAX_TEXT_CHARS:,} are accepted "
            "(the models read only its first 64 to 128 tokens, a few hundred characters). Shorten it."
        )
    return check_text(query, "The query")


def check_path(path: str | os.PathLike[str], what: str) -> Path:
    """Return `path` as a `Path` if the system can look it up at all (it may not exist).

    Args:
        path: A path from the user (a CLI argument, a dataset name that may be a folder).
        what: How the message names it, capitalised ("The text file").

    Raises:
        InvalidInputError: a NUL character, a path over `MAX_PATH_CHARS` characters, or a part of it
            over `MAX_PATH_PART_BYTES` bytes.
    """
    text = os.fspath(path)
    parts = Path(text).parts if "\x00" not in text else ()
    too_long = len(text) > MAX_PATH_CHARS or any(
        len(part.encode("utf-8", "surrogateescape")) > MAX_PATH_PART_BYTES for part in parts
    )
    if "\x00" in text or too_long:
        raise InvalidInputError(
            f"{what} {quote_path(text)} cannot be a path: paths hold no NUL character, at "
            f"most {MAX_PATH_CHARS:,} characters and at most {MAX_PATH_PART_BYTES} bytes between slashes."
        )
    return Path(text)


def model_text(text: str) -> str:
    """`text` cut at `MAX_TEXT_CHARS`: what `Encoder.embed_texts` hands its tokenizer."""
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS]


def check_choice(what: str, value: object, choices: Sequence[object]) -> None:
    """The one rule (and message) for an option with a fixed set of values: `value` must equal one
    of `choices` and be of its type (so 1 is not True, and "1" is not 1).

    Raises:
        InvalidInputError: `value` is not one of `choices`.
    """
    if not any(value == choice and isinstance(value, type(choice)) for choice in choices):
        known = ", ".join(str(choice) for choice in choices)
        raise InvalidInputError(f"{what} must be one of {known}, not {quote(value)}.")
