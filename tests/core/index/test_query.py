"""Combined, negative and weighted queries, metadata filters, minimum scores and more-like-this, each
against numpy over vectors embedded from the files (not read from the index) and plain Python over the
metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.encoders import Encoder, get_encoder
from core.errors import InvalidInputError
from core.index import (
    BuildOptions,
    FolderSource,
    QueryPart,
    ann,
    build_index,
    combine_parts,
    filter_choices,
    load_index,
    parse_filters,
    search,
    search_batch,
    similar,
)
from core.index.format.layout import IndexType
from core.index.searching import filters
from core.index.searching.query import parse_weights
from tests.core.index.conftest import IMAGE_COUNT, make_image, write_images

STYLES = ("Realism", "Cubism", "Pop Art")


def metadata_of(row: int) -> dict:
    """The sidecar fields of image `row` (the reference the filters are checked against)."""
    return {"style": STYLES[row % 3], "year": 1900 + row % 4, "artist": f"Artist {row % 5}"}


@pytest.fixture(scope="module")
def settings(tiny_models, tmp_path_factory) -> Settings:
    """Tiny models and one index folder for the whole module (its index is only read)."""
    return Settings.from_env().with_(index_dir=tmp_path_factory.mktemp("query-indexes"), batch_size=8)


@pytest.fixture(scope="module")
def siglip(settings) -> Encoder:
    return get_encoder("siglip", settings)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("query-images")
    write_images(folder, range(IMAGE_COUNT))
    return folder


@pytest.fixture(scope="module")
def art(settings, image_folder):
    """The test images with style, year and artist from a metadata.jsonl, indexed with SigLIP."""
    paths = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("image*"))
    rows = [{"file_name": path, **metadata_of(n)} for n, path in enumerate(paths)]
    (image_folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    build_index("art", FolderSource(image_folder), BuildOptions(model_key="siglip"), settings=settings)
    return load_index("art", "siglip", settings)


@pytest.fixture(scope="module")
def reference(art, siglip, image_folder) -> np.ndarray:
    """Vectors of the indexed images in index order, embedded from their files."""
    return siglip.embed_images([Image.open(image_folder / row["path"]).convert("RGB") for row in art.rows])


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int, keep=lambda row: True, floor=-np.inf):
    """(ids, scores) of the top k rows that `keep` accepts and score at least `floor`, in float64."""
    query = query.astype(np.float64).ravel()
    scores = vectors.astype(np.float64) @ (query / np.linalg.norm(query))
    order = [int(i) for i in np.argsort(-scores, kind="stable") if keep(int(i)) and scores[i] >= floor]
    return order[:k], scores[order[:k]]


def combined(*weighted: tuple[float, np.ndarray]) -> np.ndarray:
    """normalise(sum of weight * vector), weights negative for the parts left out."""
    total = sum(weight * vector.astype(np.float64).ravel() for weight, vector in weighted)
    return total / np.linalg.norm(total)


def ids(hits) -> list[int]:
    return [hit.id for hit in hits]


def test_a_drawing_plus_a_text_minus_a_text_equals_the_formula(art, siglip, reference, settings):
    drawing = make_image(500)
    parts = [
        QueryPart(drawing, weight=0.7),
        QueryPart("a watercolour painting", weight=0.4),
        QueryPart("people", weight=0.3, negative=True),
        QueryPart("text", weight=0.2, negative=True),
    ]
    vector = combine_parts(art, parts, settings=settings)
    image, text = siglip.embed_images([drawing]), siglip.embed_texts(["a watercolour painting"])
    people, words = siglip.embed_texts(["people"]), siglip.embed_texts(["text"])
    expected = combined((0.7, image), (0.4, text), (-0.3, people), (-0.2, words))
    np.testing.assert_allclose(vector.ravel(), expected, atol=1e-5)
    want_ids, want_scores = brute_force(reference, expected, 7)
    hits = search(art, vector, 7)
    assert ids(hits) == want_ids
    np.testing.assert_allclose([hit.score for hit in hits], want_scores, atol=1e-5)


def test_a_single_part_is_the_plain_search(art, settings):
    alone = combine_parts(art, [QueryPart("a red apple", 2.0)], settings=settings)
    assert ids(search(art, alone, 5)) == ids(search(art, "a red apple", 5, settings=settings))


def test_weight_zero_drops_a_part_and_bad_parts_are_refused(art, settings):
    with_zero = combine_parts(art, [QueryPart("a cat"), QueryPart("a dog", 0.0)], settings=settings)
    np.testing.assert_allclose(with_zero, combine_parts(art, [QueryPart("a cat")], settings=settings))
    with pytest.raises(InvalidInputError, match="at least one thing to search for"):
        combine_parts(art, [QueryPart("people", negative=True)], settings=settings)
    with pytest.raises(InvalidInputError, match="cancel each other out"):
        combine_parts(art, [QueryPart("a cat"), QueryPart("a cat", negative=True)], settings=settings)
    for weight in (-1, 11, float("nan"), "heavy"):
        with pytest.raises(InvalidInputError, match="weight must be a number from 0 to 10"):
            combine_parts(art, [QueryPart("a cat", weight)], settings=settings)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="at most 16"):
        combine_parts(art, [QueryPart("a cat")] * 17, settings=settings)


def test_cli_weights_are_per_part_in_order_with_one_by_default():
    assert parse_weights("0.5,0.5", 3) == [0.5, 0.5, 1.0]
    assert parse_weights("", 2) == [1.0, 1.0]
    with pytest.raises(InvalidInputError, match="3 weights given for 2 query parts"):
        parse_weights("1,1,1", 2)


@pytest.mark.parametrize(
    "terms",
    [
        ["style=Cubism"],
        ["style=Cubism", "style=Pop Art"],
        ["style=Realism", "year=1901"],
        ["artist = Artist 2 "],
        ["style=Impressionism"],  # no row has it
    ],
)
def test_filters_equal_brute_force_over_the_metadata(art, reference, siglip, terms):
    where = parse_filters(terms)
    wanted: dict[str, set[str]] = {}
    for term in terms:
        column, value = (part.strip() for part in term.split("=", 1))
        wanted.setdefault(column, set()).add(value)

    def keep(row: int) -> bool:
        data = metadata_of(row)
        return all(str(data[column]) in values for column, values in wanted.items())

    query = siglip.embed_texts(["a bird over the mountains"])
    passing = sum(keep(row) for row in range(IMAGE_COUNT))
    for k in (1, 3, IMAGE_COUNT):
        want_ids, want_scores = brute_force(reference, query, k, keep)
        hits = search_batch(art, query, k, where=where)[0]
        assert ids(hits) == want_ids
        assert len(hits) == min(k, passing)  # k come back whenever k pass
        np.testing.assert_allclose([hit.score for hit in hits], want_scores, atol=1e-5)


def test_minimum_score_keeps_exactly_the_items_above_it(art, reference, siglip):
    query = siglip.embed_images([make_image(3)])
    scores = np.sort(reference.astype(np.float64) @ (query.ravel() / np.linalg.norm(query)))[::-1]
    floor = float((scores[5] + scores[6]) / 2)  # six items pass
    for k in (3, 6, 20):
        want_ids, _ = brute_force(reference, query, k, floor=floor)
        hits = search_batch(art, query, k, min_score=floor)[0]
        assert ids(hits) == want_ids and len(hits) == min(k, 6)
    both = search_batch(art, query, 20, min_score=floor, where={"style": {"Cubism"}})[0]
    assert ids(both) == brute_force(reference, query, 20, lambda r: r % 3 == 1, floor)[0]
    for bad in (1.5, -2, float("nan"), "high"):
        with pytest.raises(InvalidInputError, match="minimum score must be a number from -1 to 1"):
            search_batch(art, query, 5, min_score=bad)


def test_bad_filters_are_clear_errors(art, siglip):
    with pytest.raises(InvalidInputError, match="not column=value"):
        parse_filters(["Cubism"])
    with pytest.raises(
        InvalidInputError, match=r"has no metadata column .colour.; its columns: artist, height, path, style"
    ):
        search_batch(art, siglip.embed_texts(["a cat"]), 3, where={"colour": {"red"}})


def test_filter_choices_list_the_columns_worth_grouping_by(art):
    choices = dict((value, label) for label, value in filter_choices(art))
    assert choices["style=Cubism"] == "style: Cubism (8)"
    assert choices["year=1901"] == "year: 1901 (6)"
    assert not [value for value in choices if value.startswith(("path=", "width=", "height="))]


def test_more_like_this_starts_from_the_stored_vector(art, reference, settings):
    hits = similar(art, art.rows[5]["_key"], 4)
    assert hits[0].id == 5 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert ids(hits) == brute_force(reference, reference[5], 4)[0]
    assert ids(similar(art, 5, 4)) == ids(hits)  # by row too
    filtered = similar(art, 5, 4, where={"style": {"Cubism"}})  # row 5 is Pop Art: left out
    assert (
        5 not in ids(filtered)
        and ids(filtered) == brute_force(reference, reference[5], 4, lambda r: r % 3 == 1)[0]
    )
    for missing in ("no-such-key", 99, -1, True):
        with pytest.raises(InvalidInputError, match="has no item"):
            similar(art, missing, 3)


def test_filtered_approximate_search_finds_k_or_falls_back_to_exact():
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:5] + 0.1 * rng.standard_normal((5, 16)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for kind in (IndexType.HNSW, IndexType.IVF):
        built = ann.build_ann(vectors, exact_threshold=100, index_type=kind)
        assert built.index_type == kind
        for rows in (np.arange(0, 600, 2), np.array([3, 77, 500])):
            _, found = filters.search_rows(built, queries, 10, rows, exact_rows=2)
            truth = [
                brute_force(vectors, query, 10, lambda r, rows=set(rows): r in rows)[0] for query in queries
            ]
            recall = np.mean(
                [len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth, strict=True)]
            )
            assert recall >= 0.9 and set(found.ravel()) <= set(rows.tolist())
            assert found.shape == (5, min(10, len(rows)))  # k results whenever k rows pass
