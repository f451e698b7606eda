"""`.partial/`: the finished batches of an unfinished build, reused only by the same job."""

from __future__ import annotations

import numpy as np

from core.index import Item
from core.index.format.partial import PartialBuild

JOB = {"format_version": 1, "kind": "image", "model_key": "siglip", "model_id": "x", "dim": 4, "source": {}}


def _items(*keys: str) -> list[Item]:
    return [Item(key, f"sig-{key}", key, {}) for key in keys]


def test_finished_batches_are_reused_by_the_same_job(tmp_path):
    folder = tmp_path / ".partial"
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    partial = PartialBuild(folder, JOB)
    partial.add(_items("a", "b"), [{"_thumbnail": "t/a"}, {}], vectors[:2])
    partial.add(_items("c"), [{}], vectors[2:])

    again = PartialBuild(folder, dict(JOB))
    assert all(again.has(item) for item in _items("a", "b", "c"))
    assert not again.has(Item("a", "another signature", "a", {}))
    np.testing.assert_array_equal(again.vectors(["c", "a"]), vectors[[2, 0]])
    assert again.entries["a"].derived == {"_thumbnail": "t/a"} and again.next_batch == 2


def test_another_job_discards_them_and_a_broken_batch_is_ignored(tmp_path):
    folder = tmp_path / ".partial"
    partial = PartialBuild(folder, JOB)
    partial.add(_items("a"), [{}], np.ones((1, 4), np.float32))
    partial.add(_items("b"), [{}], np.ones((1, 4), np.float32))
    (folder / "batch-000001.npy").write_bytes(b"not an array")
    survivor = PartialBuild(folder, JOB)
    assert survivor.has(_items("a")[0]) and not survivor.has(_items("b")[0])

    other = PartialBuild(folder, {**JOB, "model_id": "another checkpoint"})
    assert other.entries == {} and sorted(p.name for p in folder.iterdir()) == ["job.json"]
