"""Compressed indexes (IVF-PQ within a memory budget, re-ranked from float16 vectors on disk)."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import Settings
from core.errors import InvalidInputError
from core.index import IndexStore, Kind, TextFileSource, ann, build_index, load_index, search_batch
from core.index.ann import tuning
from core.index.ann.basics import ivf_of
from core.index.format.fsio import sha256_file
from core.index.format.layout import IndexType
from core.index.format.store import BuildRecord
from tests.reliability.fake_encoder import FakeEncoder

ROWS, DIM = 24_000, 64
BUDGET = ROWS * DIM  # a quarter of the float32 vectors: they do not fit


def _clustered(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    rows = centres[rng.integers(0, len(centres), count)] + 0.06 * rng.standard_normal((count, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def compressed() -> tuple[ann.BuiltIndex, np.ndarray, np.ndarray]:
    """A compressed index of clustered rows (like embeddings), and held-out queries drawn alike."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors, queries = _clustered(ROWS, rng, centres), _clustered(300, rng, centres)
    return ann.build_ann(vectors, exact_threshold=1000, memory_budget=BUDGET), vectors, queries


def test_rows_that_do_not_fit_the_budget_get_a_compressed_index_that_does(compressed):
    built, vectors, _ = compressed
    params = built.params
    assert built.index_type == IndexType.IVFPQ and ann.ann_shape(built.index) == ("ivfpq", DIM, ROWS)
    assert DIM % params["m"] == 0 and params["index_bytes"] <= BUDGET < vectors.nbytes
    assert params["recall_at_10"] >= tuning.TUNING_RECALL and "below_target" not in params
    assert ann.choose_type(ROWS, DIM, memory_budget=vectors.nbytes * 2) == IndexType.HNSW
    assert ann.choose_type(ROWS, DIM, memory_budget=BUDGET) == IndexType.IVFPQ


def test_search_is_brute_force_over_the_reranked_candidates(compressed):
    built, vectors, queries = compressed
    import faiss

    nprobe, candidates = built.params["nprobe"], built.params["candidates"]
    _, pq_ids = ivf_of(built.index).search(
        queries, candidates, params=faiss.SearchParametersIVF(nprobe=nprobe)
    )
    scores, ids = ann.search_ann(built, queries, 10)
    for row, query in enumerate(queries):
        pool = pq_ids[row][pq_ids[row] >= 0]
        stored = vectors[pool].astype(np.float16).astype(np.float64)  # float16 on disk, as a direction
        exact = (stored / np.linalg.norm(stored, axis=1, keepdims=True)) @ query.astype(np.float64)
        best = np.argsort(-exact, kind="stable")[:10]
        np.testing.assert_array_equal(np.sort(ids[row]), np.sort(pool[best]))
        np.testing.assert_allclose(scores[row], exact[best], atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0) and scores.max() <= 1.0 + 1e-6


def test_it_reaches_its_tuned_recall_on_held_out_queries(compressed):
    built, vectors, queries = compressed  # queries never indexed, unlike the tuning's held-out rows
    _, truth = ann.exact_search(vectors, queries, 10)
    _, found = ann.search_ann(built, queries, 10)
    recall = tuning.recall_at(found, truth)
    assert recall >= tuning.MIN_RECALL and recall >= built.params["recall_at_10"] - 0.02


def test_the_store_keeps_float16_vectors_beside_it_checksummed_and_memory_mapped(compressed, tmp_path):
    built, vectors, queries = compressed
    store = IndexStore(tmp_path / "big")
    store.folder.mkdir()
    rows = [{"_key": f"row:{n}", "_signature": "", "_thumbnail": None, "row": n} for n in range(ROWS)]
    record = BuildRecord(Kind.TEXT, "siglip", "test/checkpoint", DIM, 1000, {"type": "file"}, None)
    manifest = store.commit(rows, built, record)
    data = store.folder / manifest.data_dir
    assert sorted(manifest.files) == [
        f"v1/{name}" for name in ("index.faiss", "metadata.jsonl", "vectors.f16.npy")
    ]
    assert manifest.files["v1/vectors.f16.npy"]["sha256"] == sha256_file(data / "vectors.f16.npy")

    loaded = store.read(mmap=True)
    assert isinstance(loaded.rerank, np.memmap) and loaded.rerank.dtype == np.float16
    assert not loaded.rerank.flags.writeable
    np.testing.assert_array_equal(loaded.vectors(), vectors.astype(np.float16))
    expected_scores, expected_ids = ann.search_ann(built, queries, 10)
    hits = search_batch(loaded, queries, 10)
    assert [[hit.id for hit in row] for row in hits] == expected_ids.tolist()
    np.testing.assert_allclose([[hit.score for hit in row] for row in hits], expected_scores, atol=1e-6)


def test_a_budget_too_small_for_any_code_is_a_clear_error(compressed):
    _, vectors, _ = compressed
    with pytest.raises(InvalidInputError, match=r"too small for 24,000 rows.*--memory-budget"):
        ann.build_ann(vectors, exact_threshold=1000, memory_budget=ROWS * 4)


def test_an_update_grows_the_compressed_index_and_keeps_its_vectors(tmp_path, monkeypatch):
    import core.index.build.plan

    monkeypatch.setattr(
        core.index.build.plan, "IN_MEMORY_VECTORS", 0
    )  # gather vectors on disk, as for millions
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"caption {n}\n" for n in range(22_000)), encoding="utf-8")
    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=2048)
    options = dict(exact_threshold=1000, memory_budget=22_000 * 12)
    fake = FakeEncoder(settings)
    from core.index import BuildOptions

    first = build_index(
        "texts", TextFileSource(texts), BuildOptions(**options), settings=settings, encoder=fake
    )
    assert first.index_type == IndexType.IVFPQ
    before = np.array(load_index("texts", settings=settings).vectors())
    centroids = _centroids(load_index("texts", settings=settings))
    with texts.open("a", encoding="utf-8") as handle:
        handle.write("".join(f"new caption {n}\n" for n in range(1000)))
    second = build_index(
        "texts", TextFileSource(texts), BuildOptions(**options), settings=settings, encoder=fake
    )
    assert (second.index_type, second.kept, second.added, second.count) == (
        IndexType.IVFPQ,
        22_000,
        1000,
        23_000,
    )
    index = load_index("texts", settings=settings)
    np.testing.assert_array_equal(_centroids(index), centroids)  # the same trained index, grown
    np.testing.assert_array_equal(index.vectors()[:22_000], before)  # float16 again: unchanged
    new = fake.embed_texts(["new caption 7"])
    assert search_batch(index, new, 1)[0][0].metadata["text"] == "new caption 7"


def _centroids(index) -> np.ndarray:
    return np.array(ann.vectors_of(ivf_of(index.faiss_index).quantizer))
