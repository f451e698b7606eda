"""Request limits: the text limit against what the tokenizers read, the encoders' safety net, and quoting."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.config import Settings
from core.encoders import get_encoder
from core.errors import InvalidInputError
from core.limits import MAX_TEXT_CHARS, QUOTE_CHARS, check_query, check_text, quote

#: Long English words that the real CLIP BPE (shipped with open_clip) reads as one token each: a text
#: made of them packs the most characters into the fewest tokens (see benchmarks/text_limits.py).
LONG_SINGLE_TOKEN_WORDS = (
    "responsibilities recommendations characteristics representatives responsibility transformation "
    "identification interpretation administrative specifications implementation simultaneously "
    "authentication infrastructure communications recommendation reconstruction classification"
).split()


def test_the_text_limit_keeps_every_token_the_longest_reading_model_reads():
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    assert all(len(tokenizer.encode(word)) == 1 for word in LONG_SINGLE_TOKEN_WORDS)
    text = " ".join(LONG_SINGLE_TOKEN_WORDS * 20)
    # Multilingual CLIP's DistilBERT reads 128 tokens, the most of any model here.
    assert len(tokenizer.encode(text[:MAX_TEXT_CHARS])) >= 128


def test_a_query_at_the_limit_is_accepted_and_one_over_is_refused():
    assert check_query("a" * MAX_TEXT_CHARS) == "a" * MAX_TEXT_CHARS
    with pytest.raises(InvalidInputError, match=r"2,001 characters long; at most 2,000 are accepted"):
        check_query("a" * (MAX_TEXT_CHARS + 1))


def test_a_20_mb_query_is_refused_at_once_without_being_quoted():
    started = time.perf_counter()
    with pytest.raises(InvalidInputError) as refused:
        check_query("x" * 20_000_000)
    assert time.perf_counter() - started < 0.1
    assert "20,000,000 characters" in str(refused.value) and len(str(refused.value)) < 300


@pytest.mark.parametrize("value", [None, 12, 1.5, ["a"], {"text": "a"}, b"bytes"])
def test_a_query_that_is_not_text_is_refused(value):
    with pytest.raises(InvalidInputError, match=r"The query must be text, got "):
        check_query(value)


def test_check_text_names_what_it_checks():
    with pytest.raises(InvalidInputError, match=r"^The caption is 11 characters long; at most 10"):
        check_text("x" * 11, "The caption", 10)


@pytest.mark.parametrize("key", ["siglip", "clip", "mclip", "nllb-clip"])
def test_embed_texts_cuts_huge_texts_and_loses_nothing_the_model_reads(key, tiny_models):
    encoder = get_encoder(key, Settings.from_env())
    prose = "a painting of a stormy sea with a small boat under a grey sky, "
    long_text = prose * (50_000 // len(prose))  # 50 kB: each tokenizer still reads all of it quickly
    huge_text = prose * (20_000_000 // len(prose))  # 20 MB
    # The reference: the text whole, truncated by the model's own tokenizer.
    reference = encoder.embed_texts([prose * (MAX_TEXT_CHARS // len(prose) - 1)])
    started = time.perf_counter()
    got = encoder.embed_texts([long_text, huge_text])
    assert time.perf_counter() - started < 2
    np.testing.assert_allclose(got, np.repeat(reference, 2, axis=0), atol=1e-6)


def test_embed_texts_matches_the_tokenizer_on_the_whole_text(tiny_models):
    """Independent reference: transformers' SigLIP on the untruncated text, cut by its own tokenizer."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    text = "an oil painting of a lighthouse at night, waves breaking on the rocks below, " * 400
    assert len(text) > MAX_TEXT_CHARS
    model = AutoModel.from_pretrained(tiny_models["siglip"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["siglip"])
    tokens = tokenizer([text], padding="max_length", max_length=64, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        expected = torch.nn.functional.normalize(model.get_text_features(**tokens).pooler_output, dim=-1)
    got = get_encoder("siglip", Settings.from_env()).embed_texts([text])
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("siglip", "'siglip'"),
        ("猫 🐱 قطة", "'猫 🐱 قطة'"),
        ("a\nb\tc\x00", r"'a\nb\tc\x00'"),
        (12, "12"),
        (float("nan"), "nan"),
        (None, "None"),
    ],
)
def test_quote_shows_short_values_whole_on_one_line(value, expected):
    assert quote(value) == expected


def test_quote_cuts_long_strings_and_gives_their_length():
    shown = quote("x" * 20_000_000)
    assert shown == "'" + "x" * QUOTE_CHARS + "…' (20,000,000 characters)"
    assert quote("y" * 500, limit=10) == "'yyyyyyyyyy…' (500 characters)"


@pytest.mark.parametrize(
    "value",
    [list(range(1_000_000)), {"composite": {"path": "p" * 100_000, "meta": [[[[1]]]]}}, ("z" * 10**6,)],
    ids=["long-list", "nested-dict", "tuple-of-a-long-string"],
)
def test_quote_bounds_anything_else(value):
    shown = quote(value)
    assert len(shown) <= 2 * QUOTE_CHARS + 1 and "\n" not in shown
