"""Label parsing, templates and the label-embedding cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.encoders import get_encoder
from core.errors import InvalidInputError
from core.zeroshot import DEFAULT_TEMPLATE, MAX_LABELS, check_template, classify, label_cache, parse_labels


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cat, dog ,car", ["cat", "dog", "car"]),
        (" cat,, ,dog,cat, ", ["cat", "dog"]),
        ("猫、犬，車", ["猫", "犬", "車"]),
        ("قطة، كلب", ["قطة", "كلب"]),
        ("🐱, 🐶", ["🐱", "🐶"]),
        ("only one", ["only one"]),
    ],
)
def test_parse_labels(text, expected):
    assert parse_labels(text) == expected


def test_parse_labels_accepts_a_list():
    assert parse_labels([" a ", "b", "a", ""]) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No labels given"),
        (" , ,  ", "No labels given"),
        (",".join(f"l{i}" for i in range(MAX_LABELS + 1)), "at most 50"),
        ("x" * 10_000, "10,000 characters"),
    ],
)
def test_bad_labels_are_clear_errors(text, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_labels(text)


def test_exactly_the_maximum_number_of_labels_is_fine():
    assert len(parse_labels(",".join(f"l{i}" for i in range(MAX_LABELS)))) == MAX_LABELS


@pytest.mark.parametrize(
    ("template", "expected"), [(None, DEFAULT_TEMPLATE), ("  ", DEFAULT_TEMPLATE), ("a {}", "a {}")]
)
def test_templates(template, expected):
    assert check_template(template) == expected


@pytest.mark.parametrize("template", ["a photo", "a {0} and {1}", "a {} {}", "{label}", "{} }"])
def test_bad_templates_are_clear_errors(template):
    with pytest.raises(InvalidInputError, match="template"):
        check_template(template)


def test_label_embeddings_are_cached_per_model_language_and_text(tiny_models):
    settings = Settings.from_env()
    encoder = get_encoder("siglip", settings)
    image = Image.new("RGB", (40, 40), "orange")
    label_cache.clear()
    first = classify(image, "cat, dog", model="siglip", settings=settings)

    calls = []
    original = encoder.embed_texts
    encoder.embed_texts = lambda texts, **kwargs: calls.append(list(texts)) or original(texts, **kwargs)
    try:
        again = classify(image, "dog, cat", model="siglip", settings=settings)
        assert calls == []  # both labels came from the cache
        classify(image, "dog, cat, bird", model="siglip", settings=settings)
        assert calls == [[DEFAULT_TEMPLATE.format("bird")]]  # only the new label is embedded
    finally:
        del encoder.embed_texts
    assert {r["label"]: r["score"] for r in first} == pytest.approx({r["label"]: r["score"] for r in again})
    cached = label_cache.embed(encoder, [DEFAULT_TEMPLATE.format("cat")], None)
    np.testing.assert_allclose(cached, encoder.embed_texts([DEFAULT_TEMPLATE.format("cat")]), atol=1e-6)
