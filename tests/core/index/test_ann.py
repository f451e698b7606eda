"""Index type by size: exact up to the threshold, HNSW above it with recall@10 >= 0.95 against exact."""

from __future__ import annotations

import numpy as np
import pytest

from core.index import (
    BuildOptions,
    FolderSource,
    ann,
    build_index,
    load_index,
    search_batch,
)
from core.index.ann import tuning
from core.index.format.layout import IndexType
from core.index.searching.query import prepare_vectors
from tests.core.index.conftest import IMAGE_COUNT, write_images


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _recall_at_10(built: ann.BuiltIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    truth = np.argsort(-(queries.astype(np.float64) @ vectors.T.astype(np.float64)), axis=1)[:, :10]
    _, found = ann.search_ann(built, queries, 10)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def random_vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return _unit(rng.standard_normal((3000, 32))), _unit(rng.standard_normal((300, 32)))


def test_small_indexes_are_exact(random_vectors):
    vectors, queries = random_vectors
    built = ann.build_ann(vectors, exact_threshold=len(vectors))
    assert (built.index_type, built.params) == ("flat", {})
    assert _recall_at_10(built, vectors, queries) == 1.0


def test_above_the_threshold_hnsw_reaches_the_recall_target(random_vectors):
    vectors, queries = random_vectors  # held-out queries, not rows of the index
    built = ann.build_ann(vectors, exact_threshold=1000)
    assert built.index_type == "hnsw"
    params = built.params
    assert params["M"] == ann.HNSW_M and params["ef_construction"] == ann.HNSW_EF_CONSTRUCTION
    assert params["ef_search"] in tuning.EF_SEARCH_STEPS and params["recall_at_10"] >= tuning.TUNING_RECALL
    assert _recall_at_10(built, vectors, queries) >= 0.95


def test_hnsw_grows_in_place_when_rows_are_only_added(random_vectors):
    vectors, queries = random_vectors
    first = ann.build_ann(vectors[:2000], exact_threshold=1000)
    grown = ann.build_ann(vectors, exact_threshold=1000, base=first)
    assert grown.index is first.index and grown.index.ntotal == len(vectors)
    np.testing.assert_array_equal(ann.vectors_of(grown.index), vectors)
    assert _recall_at_10(grown, vectors, queries) >= 0.95


def test_an_approximate_index_that_misses_the_target_is_not_kept(random_vectors, monkeypatch):
    vectors, _ = random_vectors
    monkeypatch.setattr(tuning, "EF_SEARCH_STEPS", (1,))  # far too shallow a search to reach 0.95
    built = ann.build_ann(vectors, exact_threshold=1000, hnsw_m=4, ef_construction=8)
    assert built.index_type == "flat" and "recall@10" in built.params["approximate_rejected"]


def test_exact_search_breaks_ties_by_id():
    vectors = _unit(np.array([[1, 0], [0, 1], [1, 0], [1, 0]], np.float32))
    _, ids = ann.exact_search(vectors, vectors[:1], 4)
    assert ids.tolist() == [[0, 2, 3, 1]]


def test_a_model_build_above_the_threshold_writes_hnsw_parameters(settings, tmp_path):
    folder = tmp_path / "many"
    write_images(folder, range(IMAGE_COUNT))
    report = build_index("many", FolderSource(folder), BuildOptions(exact_threshold=10), settings=settings)
    assert report.index_type == "hnsw"
    index = load_index("many", settings=settings)
    manifest = index.manifest
    assert manifest.index_type == "hnsw" and manifest.exact_threshold == 10
    assert {"M", "ef_construction", "ef_search", "recall_at_10", "recall_queries"} <= set(
        manifest.index_params
    )
    queries = np.random.default_rng(5).standard_normal((20, index.dim)).astype(np.float32)
    exact = np.argsort(-(prepare_vectors(queries, index.dim) @ index.vectors().T), axis=1)[:, :5]
    found = [[hit.id for hit in hits] for hits in search_batch(index, queries, 5)]
    assert np.mean([len(set(f) & set(e)) / 5 for f, e in zip(found, exact.tolist(), strict=True)]) >= 0.95


def _clustered(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    rows = centres[rng.integers(0, len(centres), count)]
    return _unit(rows + 0.1 * rng.standard_normal(rows.shape).astype(np.float32))


@pytest.fixture(scope="module")
def clustered_vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    centres = _unit(rng.standard_normal((40, 32)))
    return _clustered(4000, rng, centres), _clustered(200, rng, centres)


def test_above_the_ivf_threshold_ivf_reaches_the_recall_target(clustered_vectors):
    vectors, queries = clustered_vectors
    built = ann.build_ann(vectors, exact_threshold=1000, ivf_threshold=2000)
    assert built.index_type == "ivf"
    params = built.params
    assert params["nlist"] == ann.ivf_lists(len(vectors)) == 128
    assert params["nprobe"] in tuning.NPROBE_STEPS and params["recall_at_10"] >= tuning.TUNING_RECALL
    assert _recall_at_10(built, vectors, queries) >= 0.95
    np.testing.assert_array_equal(ann.vectors_of(built.index), vectors)  # a copy, in id order


def test_ivf_grows_in_place_and_keeps_its_centroids(clustered_vectors):
    vectors, queries = clustered_vectors
    first = ann.build_ann(vectors[:3000], exact_threshold=1000, index_type="ivf")
    grown = ann.build_ann(vectors, exact_threshold=1000, base=first, index_type="ivf")
    assert grown.index is first.index and grown.index.ntotal == len(vectors)
    assert grown.params["nlist"] == first.params["nlist"]
    assert _recall_at_10(grown, vectors, queries) >= 0.95


def test_an_ivf_index_round_trips_memory_mapped(clustered_vectors, tmp_path):
    vectors, queries = clustered_vectors
    built = ann.build_ann(vectors, exact_threshold=1000, index_type="ivf")
    ann.write_ann(built.index, tmp_path / "index.faiss")
    for mmap in (False, True):
        read = ann.read_ann(tmp_path / "index.faiss", mmap=mmap)
        assert ann.ann_shape(read) == ("ivf", 32, len(vectors))
        expected = ann.search_ann(built, queries, 10)
        np.testing.assert_array_equal(
            ann.search_ann(ann.BuiltIndex(read, IndexType.IVF, built.params), queries, 10)[1], expected[1]
        )


def test_duplicates_count_as_found_when_recall_is_measured(random_vectors):
    # The same photo many times: equal vectors are interchangeable, so finding any copy is a hit.
    vectors, queries = random_vectors
    copies = np.repeat(vectors[:150], 20, axis=0)  # the top 10 are 10 of the 20 copies of one vector
    scores, truth = ann.exact_search(copies, queries, 10)
    # The other 10 copies of that vector (BLAS may order equal rows by a last bit, not by id).
    others = np.array([np.setdiff1d(row[0] // 20 * 20 + np.arange(20), row) for row in truth])
    assert tuning.recall_at(others, truth) == 0.0
    assert tuning.tied_recall_at(others, queries, copies, scores) == 1.0
    wrong = truth.copy()
    wrong[:, -1] = (truth[:, 0] + 20) % len(copies)  # a copy of another vector
    assert tuning.tied_recall_at(wrong, queries, copies, scores) == pytest.approx(0.9)
    built = ann.build_ann(copies, exact_threshold=1000)
    assert built.index_type == "hnsw" and built.params["recall_at_10"] >= tuning.TUNING_RECALL
