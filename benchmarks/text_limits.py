"""How many characters the tokens a model reads can span: the measurement behind `core.limits.MAX_TEXT_CHARS`.

    python -m benchmarks.text_limits

The text towers read 64 tokens (SigLIP family), 77 (CLIP, NLLB-CLIP) or 128 (multilingual CLIP's
DistilBERT); the rest of a text is cut. For each tokenizer this prints the most characters that the
first 64, 77 and 128 tokens spanned over real English prose (the descriptions of the Python packages
installed here: several hundred paragraphs), and over the worst realistic text: the longest English
words that the tokenizer reads as one token each, one after the other. The real CLIP BPE ships with
open_clip; the other real vocabularies are on the Hub, out of reach here, so the tiny test tokenizers
of each family stand in for them (their vocabularies are small, so their tokens are shorter than the
real ones; the tiny WordPiece reads every unknown word as one [UNK] token, an extreme the other way).
The limit must be at least the largest span.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from importlib import metadata

from benchmarks.common import machine  # sets HF_HUB_OFFLINE first

LENGTHS = (64, 77, 128)


def prose_paragraphs(minimum_chars: int = 400) -> list[str]:
    """Paragraphs of English prose from the installed packages' descriptions (mostly letters)."""
    paragraphs = []
    for distribution in metadata.distributions():
        text = distribution.metadata.get_payload() or ""  # type: ignore[attr-defined]
        for paragraph in re.split(r"\n\s*\n", text):
            paragraph = " ".join(paragraph.split())
            letters = sum(char.isalpha() or char == " " for char in paragraph)
            if len(paragraph) >= minimum_chars and letters / len(paragraph) > 0.9:
                paragraphs.append(paragraph)
    return sorted(set(paragraphs))


def span(count: Callable[[str], int], text: str, tokens: int) -> int | None:
    """Fewest leading characters of `text` that hold `tokens` tokens (None: the text has fewer)."""
    if count(text) < tokens:
        return None
    low, high = 1, len(text)
    while low < high:
        middle = (low + high) // 2
        if count(text[:middle]) >= tokens:
            high = middle
        else:
            low = middle + 1
    return low


def long_word_text(count: Callable[[str], int], paragraphs: list[str], words: int = 300) -> str:
    """The longest words of the prose that `count` reads as a single token, joined by spaces."""
    words_seen = {word for paragraph in paragraphs for word in re.findall(r"[A-Za-z]{8,}", paragraph)}
    candidates = sorted(words_seen, key=lambda word: (-len(word), word))
    single = [word for word in candidates if count(word) == 1][:words]
    return " ".join(single * (1 + 2_000 // max(1, len(" ".join(single))))) if single else ""


def tokenizers() -> dict[str, Callable[[str], int]]:
    """{name: count of the tokens of a text, special tokens left out}."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import AutoTokenizer

    from core.testing.tiny_models import build_tiny_models

    found: dict[str, Callable[[str], int]] = {}
    clip = SimpleTokenizer()
    found["CLIP BPE (real, open_clip)"] = lambda text: len(clip.encode(text))
    from benchmarks.common import CACHE

    tiny = build_tiny_models(CACHE / "tiny")
    for slot in ("siglip", "siglip-multilingual", "siglip2", "clip", "nllb-clip", "mclip-text"):
        tokenizer = AutoTokenizer.from_pretrained(tiny[slot].removeprefix("local-dir:"))
        found[f"{slot} (tiny test tokenizer)"] = lambda text, t=tokenizer: len(
            t(text, add_special_tokens=False)["input_ids"]
        )
    return found


def main() -> int:
    from core.limits import MAX_TEXT_CHARS

    print(machine())
    paragraphs = prose_paragraphs()
    print(f"{len(paragraphs)} prose paragraphs of 400+ characters; those of 128+ tokens are measured\n")
    header = "  ".join(f"{n:>4} tok" for n in LENGTHS)
    print(f"  {'tokenizer':<42} {'most characters in prose':>28}   {'in the longest words':>28}")
    print(f"  {'':<42} {header:>28}   {header:>28}")
    largest = 0
    for name, count in tokenizers().items():
        # The same paragraphs for every length: those that hold the most tokens any model reads.
        long_enough = [p for p in paragraphs if count(p) >= max(LENGTHS)]
        prose = [max(span(count, p, tokens) or 0 for p in long_enough) for tokens in LENGTHS]
        text = long_word_text(count, paragraphs)
        words = [span(count, text, tokens) or 0 for tokens in LENGTHS] if text else [0, 0, 0]
        largest = max(largest, *prose, *words)
        cells = "  ".join(f"{value:>8,}" for value in prose)
        word_cells = "  ".join(f"{value:>8,}" if value else f"{'-':>8}" for value in words)
        print(f"  {name:<42} {cells:>28}   {word_cells:>28}")
    verdict = "holds" if largest <= MAX_TEXT_CHARS else "does NOT hold"
    print(f"\nLargest span: {largest:,} characters; MAX_TEXT_CHARS = {MAX_TEXT_CHARS:,} {verdict} it.")
    return 0 if largest <= MAX_TEXT_CHARS else 1


if __name__ == "__main__":
    sys.exit(main())
