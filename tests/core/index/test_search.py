"""Searching: exact results equal numpy brute force; every query kind; checks against the wrong model;
clear errors for missing or damaged indexes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import IndexLoadError, IndexMismatchError, InvalidInputError
from core.index import (
    FolderSource,
    TextFileSource,
    build_index,
    expected_model_id,
    load_index,
    search,
    search_batch,
    verify_index,
)
from tests.core.index.conftest import IMAGE_COUNT, make_image

TEXTS = ["a red apple on a wooden table", "a photo of a cat", "a bird flying over the mountains", "ein Foto"]


def _brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: float64 scores of normalised rows, full sort."""
    data = vectors.astype(np.float64)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    query = queries.astype(np.float64)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    scores = query @ data.T
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(scores, ids, axis=1)


@pytest.fixture
def photos(settings, image_folder):
    build_index("photos", FolderSource(image_folder), settings=settings)
    return load_index("photos", "siglip", settings)


def test_exact_search_equals_numpy_brute_force(photos, siglip, image_folder):
    # Reference vectors come from the encoder on the files, not from the index.
    files = [Image.open(image_folder / row["path"]).convert("RGB") for row in photos.rows]
    reference = siglip.embed_images(files)
    queries = np.concatenate(
        [siglip.embed_texts(TEXTS), siglip.embed_images([make_image(900), make_image(901)])]
    )
    for k in (1, 5, IMAGE_COUNT):
        ids, scores = _brute_force(reference, queries, k)
        results = search_batch(photos, queries, k)
        assert [[hit.id for hit in hits] for hits in results] == ids.tolist()
        np.testing.assert_allclose(
            [[hit.score for hit in hits] for hits in results], scores, atol=1e-5, rtol=0
        )


def test_random_vectors_exact_search_equals_brute_force(photos):
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((50, photos.dim)).astype(np.float32)
    ids, scores = _brute_force(photos.vectors(), queries, 10)
    results = search_batch(photos, queries, 10)
    assert [[hit.id for hit in hits] for hits in results] == ids.tolist()
    np.testing.assert_allclose([[hit.score for hit in hits] for hits in results], scores, atol=1e-5, rtol=0)


def test_text_and_image_queries_embed_with_the_index_model(photos, siglip, settings, image_folder):
    by_text = search(photos, TEXTS[0], k=5, settings=settings)
    assert [h.id for h in by_text] == [
        h.id for h in search_batch(photos, siglip.embed_texts(TEXTS[:1]), 5)[0]
    ]

    path = image_folder / photos.rows[7]["path"]
    by_image = search(photos, Image.open(path), k=3, settings=settings)
    assert by_image[0].id == 7 and by_image[0].score == pytest.approx(1.0, abs=1e-5)
    assert (
        by_image[0].metadata["path"] == photos.rows[7]["path"] and by_image[0].key == photos.rows[7]["_key"]
    )
    assert by_image[0].thumbnail == photos.path / photos.rows[7]["_thumbnail"]
    assert [h.id for h in search(photos, path, k=3, settings=settings)] == [h.id for h in by_image]

    sketch = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent canvas + strokes: a drawing
    sketch.paste((0, 0, 0, 255), (10, 10, 50, 14))
    assert len(search("photos", sketch, k=4, settings=settings)) == 4


def test_results_are_sorted_and_never_padded(photos):
    hits = search_batch(photos, np.ones((1, photos.dim), np.float32), k=IMAGE_COUNT + 50)[0]
    assert len(hits) == IMAGE_COUNT and all(hit.id >= 0 for hit in hits)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_query_vectors_are_normalised_like_the_index(photos):
    query = np.random.default_rng(2).standard_normal(photos.dim).astype(np.float32)
    plain = search(photos, query, k=5)
    scaled = search(photos, query * 37.5, k=5)
    assert [h.id for h in plain] == [h.id for h in scaled]
    np.testing.assert_allclose([h.score for h in plain], [h.score for h in scaled], atol=1e-6)
    assert all(-1.0 - 1e-6 <= h.score <= 1.0 + 1e-6 for h in plain)


def test_image_to_text_and_text_to_text(settings, siglip, tmp_path, image_folder):
    texts = tmp_path / "captions.txt"
    texts.write_text("\n".join(TEXTS) + "\n\n")
    build_index("captions", TextFileSource(texts), settings=settings)
    index = load_index("captions", "siglip", settings)
    assert [row["text"] for row in index.rows] == TEXTS and [row["line"] for row in index.rows] == [
        1,
        2,
        3,
        4,
    ]

    text_hits = search(index, TEXTS[2], k=2, settings=settings)
    assert text_hits[0].metadata["text"] == TEXTS[2] and text_hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert text_hits[0].thumbnail is None

    image = Image.open(next(image_folder.glob("*.png")))
    ids, scores = _brute_force(siglip.embed_texts(TEXTS), siglip.embed_images([image]), 4)
    image_hits = search(index, image, k=4, settings=settings)
    assert [h.id for h in image_hits] == ids[0].tolist()
    np.testing.assert_allclose([h.score for h in image_hits], scores[0], atol=1e-5)


def test_mmap_loading_gives_the_same_results(photos, settings):
    mapped = load_index("photos", settings=settings, mmap=True)
    assert mapped.mmap and mapped is not photos
    queries = np.random.default_rng(3).standard_normal((4, photos.dim)).astype(np.float32)
    for got, expected in zip(search_batch(mapped, queries, 5), search_batch(photos, queries, 5), strict=True):
        assert [(h.id, h.key, h.metadata) for h in got] == [(h.id, h.key, h.metadata) for h in expected]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in expected], atol=1e-6)
    assert load_index("photos", settings=settings, mmap=True) is mapped  # cached


# --------------------------------------------------------------------------------------------------
# Safety


def test_another_model_is_a_clear_mismatch(photos, settings, tiny_models):
    with pytest.raises(IndexMismatchError) as error:
        load_index("photos", "clip", settings)
    assert "'siglip'" in str(error.value) and "'clip'" in str(error.value)

    # Same key, another checkpoint (a different dimension too): refused before any wrong answer.
    other = settings.with_model_overrides([f"siglip={tiny_models['siglip2']}"])
    with pytest.raises(IndexMismatchError) as error:
        load_index("photos", "siglip", other)
    message = str(error.value)
    assert tiny_models["siglip"] in message and tiny_models["siglip2"] in message
    with pytest.raises(IndexMismatchError, match=r"dimension 64.*32-dimensional"):
        search_batch(photos, np.ones((1, 64), np.float32))
    assert (
        expected_model_id("mclip", settings)
        == f"image={tiny_models['mclip-image']} + text={tiny_models['mclip-text']}"
    )


def test_searching_with_a_changed_checkpoint_is_refused(photos, settings, tiny_models):
    other = settings.with_model_overrides([f"siglip={tiny_models['siglip-multilingual']}"])
    with pytest.raises(IndexMismatchError, match="siglip-multilingual"):
        search(photos, "a cat", settings=other)


def test_missing_index_says_how_to_build_one(settings):
    with pytest.raises(IndexLoadError, match=r"No index named 'nothing'.*index build nothing --folder"):
        load_index("nothing", settings=settings)


def test_damaged_files_are_detected(photos, settings):
    data = settings.index_dir / "photos" / photos.manifest.data_dir
    blob = bytearray((data / "index.faiss").read_bytes())
    blob[-5] ^= 0xFF
    (data / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(IndexLoadError, match=r"damaged.*index\.faiss.*--rebuild"):
        load_index("photos", settings=settings)

    (data / "index.faiss").write_bytes(bytes(blob[:100]))
    with pytest.raises(IndexLoadError, match="damaged"):
        load_index("photos", settings=settings)

    (settings.index_dir / "photos" / "manifest.json").write_text('{"name": "photos", "count": ')
    with pytest.raises(IndexLoadError, match="not valid JSON"):
        load_index("photos", settings=settings)


def test_a_tampered_thumbnail_is_detected(photos, settings):
    thumbnail = photos.path / photos.rows[0]["_thumbnail"]
    thumbnail.write_bytes(thumbnail.read_bytes() + b"tail")
    with pytest.raises(IndexLoadError, match="does not match its name"):
        verify_index("photos", settings)


def test_bad_queries_are_clear_errors(photos, settings):
    with pytest.raises(InvalidInputError, match="empty"):
        search(photos, "   ", settings=settings)
    with pytest.raises(InvalidInputError, match="at least 1"):
        search(photos, np.ones(photos.dim, np.float32), k=0)
    with pytest.raises(InvalidInputError, match="NaN"):
        search(photos, np.full(photos.dim, np.nan, np.float32))
    with pytest.raises(InvalidInputError, match="search_batch"):
        search(photos, np.ones((2, photos.dim), np.float32))
