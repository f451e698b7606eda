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


def test_the_tabs_are_never_served_label_embeddings_of_a_bulk_run(tiny_models):
    """An evaluation loads the model in bf16 (bulk); the tabs' fp32 scores must not use its cache."""
    import numpy as np
    from PIL import Image

    from core.config import Settings
    from core.encoders import get_encoder
    from core.zeroshot import classify, label_cache

    auto = Settings.from_env().with_(precision="auto")
    image = Image.new("RGB", (40, 30), (200, 40, 90))
    labels = ["a cat", "a dog", "a red car"]
    label_cache.clear()
    reference = classify(image, labels, model="clip", settings=auto.with_(precision="fp32"))
    label_cache.clear()
    bulk = get_encoder("clip", auto, bulk=True)
    label_cache.embed(bulk, [f"This is a photo of {label}." for label in labels], None)
    again = classify(image, labels, model="clip", settings=auto)
    assert [r["label"] for r in again] == [r["label"] for r in reference]
    np.testing.assert_allclose([r["score"] for r in again], [r["score"] for r in reference], atol=1e-6)
