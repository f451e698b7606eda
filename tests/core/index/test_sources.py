"""Sources: items with plain fields (key, signature, label, metadata, and a path, bytes or text)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInputError
from core.images import open_image
from core.index import DatasetSource, FolderSource, Kind, TextFileSource
from core.index.build.decode import open_item
from tests.core.index.conftest import make_image, write_images


def test_a_folder_lists_its_images_in_a_stable_order_with_sidecar_fields(tmp_path):
    folder = tmp_path / "photos"
    paths = write_images(folder, range(6))
    (folder / ".hidden.png").write_bytes(b"x")
    (folder / "notes.txt").write_text("not an image")
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "image000.png", "title": "First"}) + "\n")
    items = list(FolderSource(folder).items())
    relative = sorted(p.relative_to(folder).as_posix() for p in paths)
    assert [item.key for item in items] == relative == [item.label for item in items]
    first = next(item for item in items if item.key == "image000.png")
    assert first.metadata == {"title": "First", "path": "image000.png"} and first.path == str(paths[0])
    assert first.data is None and first.text is None
    assert pickle.loads(pickle.dumps(items)) == items  # plain data: worker processes and actors take it


def test_a_folder_source_leaves_out_the_index_folder_inside_it(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder, range(2))
    write_images(folder / "indexes" / "photos" / "thumbnails", range(3))
    assert len(list(FolderSource(folder).items())) == 5
    assert len(list(FolderSource(folder).excluding(folder / "indexes").items())) == 2


def test_a_changed_file_changes_its_signature(tmp_path):
    folder = tmp_path / "photos"
    (path,) = write_images(folder, [0])
    before = next(FolderSource(folder).items()).signature
    make_image(7, (64, 64)).save(path)
    os.utime(path, ns=(1, 1))
    assert next(FolderSource(folder).items()).signature != before


def test_text_files_key_texts_by_content_and_occurrence(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("a cat\n\na dog\na cat\n")
    items = list(TextFileSource(path).items())
    assert [item.text for item in items] == ["a cat", "a dog", "a cat"]
    assert items[0].key != items[2].key and items[0].key.split("#")[0] == items[2].key.split("#")[0]
    assert [item.metadata["line"] for item in items] == [1, 3, 4] and TextFileSource(path).kind == Kind.TEXT
    csv = tmp_path / "texts.csv"
    csv.write_text("caption,source\nred car,s1\n")
    (item,) = TextFileSource(csv, text_column="caption").items()
    assert (item.text, item.metadata) == ("red car", {"source": "s1", "text": "red car", "row": 0})
    with pytest.raises(InvalidInputError, match="no column 'text'"):
        list(TextFileSource(csv).items())


def test_dataset_images_arrive_as_bytes_and_decode_like_the_original():
    import datasets

    pictures = [make_image(n, (30, 20)) for n in range(3)]
    features = datasets.Features(
        {"image": datasets.Image(), "style": datasets.ClassLabel(names=["Abstract_Expressionism", "pop-art"])}
    )
    dataset = datasets.Dataset.from_dict({"image": pictures, "style": [0, 1, 0]}, features=features)
    source = DatasetSource(dataset, kind="image", column="image", limit=2)
    items = list(source.items())
    assert [item.key for item in items] == ["row:0", "row:1"] and source.expected_count() == 2
    assert [item.metadata["style"] for item in items] == ["Abstract Expressionism", "Pop Art"]
    assert all(item.data is not None and item.path is None for item in items)
    np.testing.assert_array_equal(np.asarray(open_item(items[1])), np.asarray(pictures[1].convert("RGB")))
    assert source.identity() == {
        "type": "dataset", "name": "in-memory", "config": None, "split": "train", "image_column": "image"
    }  # fmt: skip


def test_decoded_cells_are_kept_losslessly():
    picture = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    dataset = [{"image": picture}, {"image": np.asarray(picture)}, {"image": None}]
    source = DatasetSource(dataset, kind="image", column="image")
    first, second, empty = source.items()
    for item in (first, second):
        np.testing.assert_array_equal(np.asarray(open_image(item.data)), np.asarray(picture))
    with pytest.raises(InvalidInputError, match="no image"):
        open_item(empty)
