"""Label parsing, templates and the label-embedding cache."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.encoders import get_encoder
from core.errors import InvalidInputError
from core.limits import MAX_LABEL_CHARS, MAX_TEMPLATE_CHARS
from core.zeroshot import (
    DEFAULT_TEMPLATE,
    MAX_LABELS,
    TEMPLATE_RULE,
    check_template,
    classify,
    fill_template,
    label_cache,
    parse_labels,
)


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


@pytest.mark.parametrize(
    "template",
    ["{}", "a photo of {}.", "{{{}}}", "{{ {} }}", "the {} {{as seen}}", "{}}}{{", "猫の{}の写真", "{}\t\n"],
)
def test_a_bare_placeholder_and_escaped_braces_fill_as_str_format_does(template):
    assert check_template(template) == template
    assert fill_template(template, "cat") == template.format("cat")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{}}{:>20000000}", "a brace that is neither"),  # the reported 20 MB padding
        ("{:>10}", "a brace that is neither"),
        ("{:}", "a brace that is neither"),  # formats like {}, but it is a format spec all the same
        ("{!r}", "a brace that is neither"),
        ("{0}", "a brace that is neither"),
        ("{0.__class__}", "a brace that is neither"),
        ("{[0]}", "a brace that is neither"),
        ("{label}", "a brace that is neither"),
        ("{} {", "a brace that is neither"),
        ("{{}", "a brace that is neither"),
        ("{}}", "a brace that is neither"),
        ("a {} and {}", "has 2 {} instead of one"),
        ("{{}}", "has no {} where the label goes"),
        ("a photo", "has no {} where the label goes"),
    ],
)
def test_anything_but_one_bare_placeholder_is_refused_with_what_is_allowed(template, problem):
    with pytest.raises(InvalidInputError) as refused:
        check_template(template)
    message = str(refused.value)
    assert problem in message and TEMPLATE_RULE in message


def test_a_template_over_the_limit_is_refused_and_not_echoed():
    template = "a photo of {} " + "x" * 20_000_000
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"^The template is 20,000,014 characters long; at most 200"):
        check_template(template)
    assert time.perf_counter() - started < 0.1
    assert check_template("{}" + "x" * (MAX_TEMPLATE_CHARS - 2))


@pytest.mark.parametrize("template", [12, ["{}"], {"a": "{}"}, 3.5])
def test_a_template_that_is_not_text_is_refused(template):
    with pytest.raises(InvalidInputError, match="The template must be text"):
        check_template(template)


def test_the_labels_field_as_a_whole_is_bounded_before_it_is_split():
    most = ", ".join(f"{n:02d}" + "x" * (MAX_LABEL_CHARS - 2) for n in range(MAX_LABELS))
    assert len(parse_labels(most)) == MAX_LABELS
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"20,000,000 characters long in all; at most 16,000"):
        parse_labels("a," * 10_000_000)
    assert time.perf_counter() - started < 0.1
    with pytest.raises(InvalidInputError, match="characters long in all"):
        parse_labels(["a"] * 1_000_000)


def test_labels_that_are_not_text_are_refused():
    with pytest.raises(InvalidInputError, match=r"Labels must be text, got int 3"):
        parse_labels(["cat", 3])


def test_a_long_label_is_quoted_by_a_short_prefix():
    with pytest.raises(InvalidInputError) as refused:
        parse_labels("y" * 10_000)
    assert "'" + "y" * 40 + "…' (10,000 characters)" in str(refused.value)


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
