"""The store: the one writer (commit: version, then manifest, then clean-up) and reader of an index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.config import Settings
from core.errors import IndexLoadError, IndexWriteError
from core.index import IndexStore, Kind
from core.index.ann.build import build_ann
from core.index.format.fsio import file_record
from core.index.format.store import BuildRecord
from core.index.format.thumbnails import make_thumbnail
from tests.core.index.conftest import make_image


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _record(**changes) -> BuildRecord:
    fields = dict(
        kind=Kind.IMAGE, model_key="siglip", model_id="test/checkpoint", dim=8, exact_threshold=50_000,
        source={"type": "folder", "path": "/photos"}, language=None,
    )  # fmt: skip
    return BuildRecord(**{**fields, **changes})


def _commit(store: IndexStore, count: int, seed: int = 0):
    vectors = _unit(np.random.default_rng(seed).standard_normal((count, 8)))
    rows = []
    for n in range(count):
        thumbnail = store.write_thumbnail(make_thumbnail(make_image(seed * 100 + n)))
        name = f"image{n}.png"
        rows.append({"_key": name, "_signature": "1:2", "_thumbnail": thumbnail, "path": name})
    return store.commit(rows, build_ann(vectors), _record()), rows, vectors


@pytest.fixture
def store(tmp_path) -> IndexStore:
    return IndexStore.named("photos", Settings(index_dir=tmp_path / "indexes"))


def test_commit_then_read_round_trips_rows_and_vectors(store):
    assert not store.exists()
    manifest, rows, vectors = _commit(store, 5)
    assert store.exists() and manifest.count == 5 and manifest.version == 1
    loaded = store.read()
    assert loaded.rows == rows and loaded.manifest == manifest
    np.testing.assert_array_equal(loaded.vectors(), vectors)
    assert manifest.thumbnails["count"] == 5
    assert set(manifest.files) == {"v1/index.faiss", "v1/metadata.jsonl"}
    store.verify()


def test_a_second_commit_replaces_the_version_and_drops_unused_thumbnails(store):
    _commit(store, 5)
    manifest, rows, _ = _commit(store, 3, seed=1)
    assert manifest.version == 2
    assert sorted(p.name for p in store.folder.iterdir()) == ["manifest.json", "thumbnails", "v2"]
    assert len(list((store.folder / "thumbnails").iterdir())) == 3
    assert store.read().rows == rows


def test_an_interrupted_publish_keeps_the_previous_version(store, monkeypatch):
    first, rows, _ = _commit(store, 4)

    def power_cut(self, manifest):
        raise KeyboardInterrupt

    monkeypatch.setattr(IndexStore, "publish", power_cut)
    with pytest.raises(KeyboardInterrupt):
        _commit(store, 2, seed=3)
    monkeypatch.undo()
    assert store.read().manifest == first and store.read().rows == rows
    manifest, _, _ = _commit(store, 2, seed=3)  # the unfinished v2 folder is skipped, not reused
    assert manifest.version == 3 and sorted(p.name for p in store.folder.glob("v*")) == ["v3"]


@pytest.mark.parametrize("damage", ["checksum", "rows", "manifest"])
def test_damage_is_refused_with_the_rebuild_command(store, damage):
    _commit(store, 4)
    metadata = store.folder / "v1" / "metadata.jsonl"
    if damage == "checksum":
        metadata.write_text(metadata.read_text().replace("image0", "imageX"))
    elif damage == "rows":  # a consistent checksum, but a row short of the manifest's count
        metadata.write_text("".join(metadata.read_text().splitlines(keepends=True)[:3]))
        data = json.loads((store.folder / "manifest.json").read_text())
        data["files"]["v1/metadata.jsonl"] = file_record(metadata)
        (store.folder / "manifest.json").write_text(json.dumps(data))
    else:
        (store.folder / "manifest.json").write_text("{ not json")
    with pytest.raises(IndexLoadError, match=r"index build photos.*--rebuild") as error:
        store.read()
    expected = {
        "checksum": "does not match the checksum",
        "rows": "3 metadata rows",
        "manifest": "not valid JSON",
    }
    assert expected[damage] in str(error.value)


def test_one_build_at_a_time(store):
    busy = pytest.raises(IndexWriteError, match="Another build of index 'photos' is running")
    with store.lock(), busy, store.lock():
        pass
    with store.lock():  # released when the first build ends
        pass


def test_large_metadata_is_read_on_access_and_equals_the_list(tmp_path):
    from core.index.format.rows import LazyRows

    path = tmp_path / "metadata.jsonl"
    rows = [{"_key": f"row:{n}", "text": f"caption {n} é"} for n in range(50)]
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows) + "\n", encoding="utf-8"
    )
    lazy = LazyRows(path)
    assert len(lazy) == 50 and lazy == rows and list(lazy) == rows
    assert (lazy[0], lazy[-1], lazy[10:13]) == (rows[0], rows[-1], rows[10:13])
    with pytest.raises(IndexError):
        lazy[50]
    (tmp_path / "empty.jsonl").write_text("")
    assert len(LazyRows(tmp_path / "empty.jsonl")) == 0


def test_large_files_are_checked_by_samples_on_load_and_whole_by_verify(store, monkeypatch):
    from core.index.format import fsio, rows

    # What a 5M-row index meets at 512 MiB, at sizes a test can write.
    monkeypatch.setattr(fsio, "FULL_VERIFY_BYTES", 4096)
    monkeypatch.setattr(fsio, "SAMPLE_BLOCK_BYTES", 256)
    monkeypatch.setattr(fsio, "SAMPLE_BLOCKS", 4)
    monkeypatch.setattr(rows, "LAZY_ROWS_BYTES", 0)
    vectors = _unit(np.random.default_rng(0).standard_normal((600, 8)))
    entries = [{"_key": f"row:{n}", "_signature": "", "_thumbnail": None, "row": n} for n in range(600)]
    store.folder.mkdir(parents=True)
    manifest = store.commit(entries, build_ann(vectors), _record())
    index_file = store.folder / "v1" / "index.faiss"
    assert "sample_sha256" in manifest.files["v1/index.faiss"]

    loaded = store.read()
    assert loaded.verified == "sampled" and isinstance(loaded.rows, rows.LazyRows) and loaded.rows == entries
    assert store.read(verify="full").verified == "full"

    data = bytearray(index_file.read_bytes())
    middle = len(data) // 6  # between the sampled blocks (256 bytes at 0, 1/3, 2/3 and the end)
    data[middle] ^= 0xFF
    index_file.write_bytes(bytes(data))
    assert store.read().verified == "sampled"  # the load's check does not read this byte...
    with pytest.raises(IndexLoadError, match="does not match the checksum"):
        store.verify()  # ...`index info --verify` does
    data[10] ^= 0xFF  # in the first block: the load's check sees it
    index_file.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="does not match the checksum"):
        store.read()
