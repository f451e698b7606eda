"""Text indexes from files and dataset columns, and their round trip through `datasets`' FAISS integration."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.index import (
    DatasetSource,
    TextFileSource,
    as_hf_dataset,
    build_index,
    load_index,
    search,
    search_batch,
)

SENTENCES = [
    "a photo of a cat",
    "ein Foto eines Hundes",
    "une voiture rouge dans la rue",
    "two people walking on the beach at sunset",
    "a photo of a cat",  # a duplicate is a second item
    "",  # an empty text is skipped
    "Ein Vogel fliegt über die Berge.",
]


def _sentence_dataset():
    import datasets

    return datasets.Dataset.from_dict(
        {
            "sentence": SENTENCES,
            "lang": ["en", "de", "fr", "en", "en", "en", "de"],
            "id": list(range(len(SENTENCES))),
        }
    )


def test_dataset_column_round_trip_through_datasets(settings, siglip, tmp_path):
    import datasets

    report = build_index(
        "sentences", DatasetSource(_sentence_dataset(), kind="text", column="sentence"), settings=settings
    )
    assert report.count == 6 and [s.item for s in report.skipped] == ["row 5"]
    index = load_index("sentences", "siglip", settings)
    assert [row["text"] for row in index.rows] == [s for s in SENTENCES if s]
    assert [row["lang"] for row in index.rows] == ["en", "de", "fr", "en", "en", "de"]
    np.testing.assert_allclose(index.vectors(), siglip.embed_texts([s for s in SENTENCES if s]), atol=1e-6)

    # The saved files are a datasets.Dataset with a FAISS index: line i of the JSONL is FAISS id i.
    dataset = datasets.Dataset.from_json(str(index.metadata_file), cache_dir=str(tmp_path / "hf-cache"))
    dataset.load_faiss_index("embeddings", index.index_file)
    query = siglip.embed_texts(["a cat on a photo"])[0]
    scores, examples = dataset.get_nearest_examples("embeddings", query, k=4)
    hits = search(index, query, k=4)
    assert examples["text"] == [hit.metadata["text"] for hit in hits]
    assert examples["_key"] == [hit.key for hit in hits]
    np.testing.assert_allclose(scores, [hit.score for hit in hits], atol=1e-5)

    attached = as_hf_dataset(index)
    scores, examples = attached.get_nearest_examples("embeddings", query, k=4)
    assert examples["text"] == [hit.metadata["text"] for hit in hits]


@pytest.mark.parametrize("kind", ["txt", "csv", "jsonl"])
def test_text_files_give_the_same_index(settings, siglip, tmp_path, kind):
    texts = [s for s in SENTENCES if s]
    path = tmp_path / f"texts.{kind}"
    if kind == "txt":
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    elif kind == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["caption", "source"])
            writer.writerows([text, f"s{n}"] for n, text in enumerate(texts))
    else:
        path.write_text(
            "".join(json.dumps({"caption": t, "n": n}) + "\n" for n, t in enumerate(texts)), "utf-8"
        )
    build_index("texts", TextFileSource(path, text_column="caption"), settings=settings)
    index = load_index("texts", settings=settings)
    assert [row["text"] for row in index.rows] == texts
    np.testing.assert_allclose(index.vectors(), siglip.embed_texts(texts), atol=1e-6)
    if kind == "csv":
        assert index.rows[2]["source"] == "s2"


def test_editing_a_text_file_embeds_only_new_texts(settings, siglip, tmp_path, monkeypatch):
    path = tmp_path / "texts.txt"
    path.write_text("one cat\ntwo dogs\nthree birds\n")
    build_index("texts", TextFileSource(path), settings=settings)
    path.write_text("zero fish\none cat\nthree birds\nfour cars\n")

    calls: list[int] = []
    original = siglip.embed_texts
    monkeypatch.setattr(
        siglip, "embed_texts", lambda texts, **kw: calls.append(len(texts)) or original(texts, **kw)
    )
    report = build_index("texts", TextFileSource(path), settings=settings)

    assert sum(calls) == 2 and (report.added, report.removed, report.kept) == (2, 1, 2)
    index = load_index("texts", settings=settings)
    assert sorted(row["text"] for row in index.rows) == ["four cars", "one cat", "three birds", "zero fish"]
    hit = search_batch(index, siglip.embed_texts(["zero fish"]), 1)[0][0]
    assert hit.metadata == {"text": "zero fish", "line": 1}


def test_text_file_errors_are_clear(settings, tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match=r"no column 'text'.*--text-column"):
        build_index("texts", TextFileSource(path), settings=settings)
    (tmp_path / "texts.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(InvalidInputError, match=r"\.txt file"):
        build_index("texts", TextFileSource(tmp_path / "texts.pdf"), settings=settings)
    with pytest.raises(InvalidInputError, match="does not exist"):
        build_index("texts", TextFileSource(tmp_path / "missing.txt"), settings=settings)
