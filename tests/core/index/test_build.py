"""Building indexes: folders and datasets, incremental updates, resuming, corrupt files, atomic commits."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
from PIL import Image

from core.errors import IndexLoadError, IndexMismatchError, InvalidInputError
from core.index import (
    BuildOptions,
    DatasetSource,
    FolderSource,
    IndexStore,
    IndexWriteError,
    build_index,
    list_indexes,
    load_index,
    search_batch,
    verify_index,
)
from core.index.format.fsio import sha256_file, write_error_message
from tests.core.index.conftest import BATCH_SIZE, IMAGE_COUNT, make_image, write_images


def _by_key(index) -> dict[str, np.ndarray]:
    return {row["_key"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}


def _count_embedded(monkeypatch, encoder) -> list[int]:
    """Record how many images each model call gets (a spy on the real encoder, not a mock)."""
    calls: list[int] = []
    images_call, pixels_call = encoder.embed_images, encoder.fast_path.embed

    def counting_images(images, *args, **kwargs):
        calls.append(len(images))
        return images_call(images, *args, **kwargs)

    def counting_pixels(pixels):
        calls.append(len(pixels["pixel_values"]))
        return pixels_call(pixels)

    monkeypatch.setattr(encoder, "embed_images", counting_images)
    monkeypatch.setattr(encoder.fast_path, "embed", counting_pixels)
    return calls


def test_folder_build_writes_a_complete_index(settings, siglip, image_folder):
    progress: list[tuple[int, int]] = []
    report = build_index(
        "photos",
        FolderSource(image_folder),
        settings=settings,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert (report.count, report.added, report.embedded, report.skipped) == (
        IMAGE_COUNT,
        IMAGE_COUNT,
        IMAGE_COUNT,
        (),
    )
    assert report.index_type == "flat" and report.size_bytes > 0
    assert progress[0] == (0, IMAGE_COUNT) and progress[-1] == (IMAGE_COUNT, IMAGE_COUNT)

    folder = settings.index_dir / "photos"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_key"] == "siglip" and manifest["model_id"] == siglip.model_id
    assert (manifest["dim"], manifest["count"], manifest["metric"]) == (siglip.dim, IMAGE_COUNT, "cosine")
    assert manifest["index_type"] == "flat" and manifest["format_version"] == 1
    assert manifest["source"] == {"type": "folder", "path": str(image_folder.resolve())}
    for relative, record in manifest["files"].items():
        assert sha256_file(folder / relative) == record["sha256"]

    index = load_index("photos", "siglip", settings)
    paths = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("*.*"))
    assert sorted(row["path"] for row in index.rows) == paths
    for row in index.rows:
        thumbnail = folder / row["_thumbnail"]
        assert thumbnail.parent == folder / "thumbnails" and thumbnail.suffix == ".jpg"
        with Image.open(thumbnail) as image:
            assert max(image.size) <= 256
        original = Image.open(image_folder / row["path"])
        assert (row["width"], row["height"]) == original.size
    assert not (folder / ".partial").exists()
    assert [info.name for info in list_indexes(settings)] == ["photos"]
    verify_index("photos", settings)


def test_vectors_equal_the_encoder_on_each_file(settings, siglip, image_folder):
    build_index("photos", FolderSource(image_folder), settings=settings)
    index = load_index("photos", settings=settings)
    paths = [image_folder / row["path"] for row in index.rows]
    expected = siglip.embed_images([Image.open(path).convert("RGB") for path in paths])
    np.testing.assert_allclose(index.vectors(), expected, atol=1e-6)


def test_corrupt_and_empty_files_are_skipped_and_listed(settings, image_folder):
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    (image_folder / "empty.jpg").write_bytes(b"")
    truncated = image_folder / "part1" / "truncated.jpg"
    make_image(99, (64, 64)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    (image_folder / "notes.txt").write_text("not an image, and not an image extension")

    report = build_index("photos", FolderSource(image_folder), settings=settings)

    assert report.count == IMAGE_COUNT
    assert sorted(s.item for s in report.skipped) == ["broken.png", "empty.jpg", "part1/truncated.jpg"]
    assert all(s.reason for s in report.skipped)
    manifest = load_index("photos", settings=settings).manifest
    assert manifest.last_build["skipped"] == 3


def test_incremental_update_adds_new_and_removes_deleted_images(settings, siglip, image_folder, monkeypatch):
    build_index("photos", FolderSource(image_folder), settings=settings)
    before = _by_key(load_index("photos", settings=settings))

    deleted = sorted(image_folder.rglob("image00[0-2].*"))
    for path in deleted:
        path.unlink()
    added = write_images(image_folder, [100, 101, 102, 103, 104])
    calls = _count_embedded(monkeypatch, siglip)
    report = build_index("photos", FolderSource(image_folder), settings=settings)

    assert sum(calls) == 5
    assert (report.added, report.removed, report.kept, report.count) == (
        5,
        3,
        IMAGE_COUNT - 3,
        IMAGE_COUNT + 2,
    )
    index = load_index("photos", settings=settings)
    after = _by_key(index)
    assert set(after) == set(before) - {p.relative_to(image_folder).as_posix() for p in deleted} | {
        p.relative_to(image_folder).as_posix() for p in added
    }
    for key in set(before) & set(after):
        np.testing.assert_array_equal(after[key], before[key])
    # Old thumbnails and versions are gone; nothing else is left behind.
    folder = settings.index_dir / "photos"
    assert len(list((folder / "thumbnails").iterdir())) == IMAGE_COUNT + 2
    assert sorted(p.name for p in folder.iterdir()) == [
        ".lock",
        "manifest.json",
        "thumbnails",
        f"v{index.manifest.version}",
    ]

    calls.clear()
    report = build_index("photos", FolderSource(image_folder), settings=settings)
    assert calls == [] and (report.added, report.removed, report.kept) == (0, 0, IMAGE_COUNT + 2)


def test_a_changed_file_is_embedded_again(settings, image_folder):
    build_index("photos", FolderSource(image_folder), settings=settings)
    target = next(image_folder.rglob("image005.*"))
    key = target.relative_to(image_folder).as_posix()
    old = _by_key(load_index("photos", settings=settings))[key]
    make_image(500).save(target)

    report = build_index("photos", FolderSource(image_folder), settings=settings)

    assert (report.updated, report.embedded, report.count) == (1, 1, IMAGE_COUNT)
    assert not np.allclose(_by_key(load_index("photos", settings=settings))[key], old)


def test_interrupted_build_resumes_without_recomputing_finished_batches(
    settings, siglip, image_folder, tmp_path, monkeypatch
):
    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 2 * BATCH_SIZE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index("photos", FolderSource(image_folder), settings=settings, progress=stop_after_two_batches)
    with pytest.raises(IndexLoadError, match=r"has not finished building.*resume"):
        load_index("photos", settings=settings)
    assert list_indexes(settings) == []

    calls = _count_embedded(monkeypatch, siglip)
    report = build_index("photos", FolderSource(image_folder), settings=settings)
    assert sum(calls) == IMAGE_COUNT - 2 * BATCH_SIZE
    assert (report.resumed, report.embedded, report.count) == (
        2 * BATCH_SIZE,
        IMAGE_COUNT - 2 * BATCH_SIZE,
        IMAGE_COUNT,
    )

    # The resumed index holds exactly what an uninterrupted build makes.
    fresh = settings.with_(index_dir=tmp_path / "fresh")
    build_index("photos", FolderSource(image_folder), settings=fresh)
    resumed, clean = (
        _by_key(load_index("photos", settings=settings)),
        _by_key(load_index("photos", settings=fresh)),
    )
    assert resumed.keys() == clean.keys()
    for key in clean:
        np.testing.assert_array_equal(resumed[key], clean[key])
    verify_index("photos", settings)


def test_an_interrupted_commit_leaves_the_previous_index_intact(settings, siglip, image_folder, monkeypatch):
    build_index("photos", FolderSource(image_folder), settings=settings)
    before = load_index("photos", settings=settings)
    write_images(image_folder, [200, 201])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(IndexStore, "publish", crash)  # the commit point: manifest.json's rename
    with pytest.raises(KeyboardInterrupt):
        build_index("photos", FolderSource(image_folder), settings=settings)
    monkeypatch.undo()

    still = load_index("photos", settings=settings)
    assert still.manifest == before.manifest and len(still) == IMAGE_COUNT
    verify_index("photos", settings)
    calls = _count_embedded(monkeypatch, siglip)
    report = build_index("photos", FolderSource(image_folder), settings=settings)
    assert calls == [] and (report.resumed, report.count) == (2, IMAGE_COUNT + 2)


def test_a_damaged_index_is_not_updated_but_can_be_rebuilt(settings, image_folder):
    build_index("photos", FolderSource(image_folder), settings=settings)
    (data,) = (settings.index_dir / "photos").glob("v*/index.faiss")
    data.write_bytes(data.read_bytes()[:-10])
    # The build reads the index as a search does: the same verdict, the same way out.
    with pytest.raises(IndexLoadError, match=r"damaged.*index\.faiss.*--rebuild") as build_error:
        build_index("photos", FolderSource(image_folder), settings=settings)
    with pytest.raises(IndexLoadError) as search_error:
        load_index("photos", settings=settings)
    assert str(build_error.value) == str(search_error.value)
    report = build_index("photos", FolderSource(image_folder), BuildOptions(rebuild=True), settings=settings)
    assert report.count == IMAGE_COUNT and report.embedded == IMAGE_COUNT
    verify_index("photos", settings)


def test_rebuilding_with_another_model_needs_rebuild(settings, image_folder):
    build_index("photos", FolderSource(image_folder), settings=settings)
    with pytest.raises(IndexMismatchError, match=r"'siglip'.*'clip'"):
        build_index("photos", FolderSource(image_folder), BuildOptions(model_key="clip"), settings=settings)
    report = build_index(
        "photos", FolderSource(image_folder), BuildOptions(model_key="clip", rebuild=True), settings=settings
    )
    assert report.model_key == "clip" and report.embedded == IMAGE_COUNT
    assert load_index("photos", "clip", settings).dim == 24


def test_another_folder_under_the_same_name_is_refused(settings, image_folder, tmp_path):
    build_index("photos", FolderSource(image_folder), settings=settings)
    other = tmp_path / "other"
    write_images(other, [1, 2])
    with pytest.raises(InvalidInputError, match="--rebuild"):
        build_index("photos", FolderSource(other), settings=settings)


def test_sidecar_metadata_is_attached(settings, tmp_path):
    folder = tmp_path / "art"
    paths = write_images(folder, [0, 3, 6])
    lines = [
        {"file_name": p.relative_to(folder).as_posix(), "title": f"Work {n}", "artist": "Anon"}
        for n, p in enumerate(paths)
    ]
    (folder / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    build_index("art", FolderSource(folder), settings=settings)
    rows = {row["path"]: row for row in load_index("art", settings=settings).rows}
    for n, path in enumerate(paths):
        assert rows[path.relative_to(folder).as_posix()]["title"] == f"Work {n}"


def test_no_images_is_a_clear_error(settings, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="No images found"):
        build_index("nothing", FolderSource(tmp_path / "empty"), settings=settings)
    with pytest.raises(InvalidInputError, match="does not exist"):
        build_index("nothing", FolderSource(tmp_path / "missing"), settings=settings)
    with pytest.raises(InvalidInputError, match="not a valid index name"):
        build_index("../escape", FolderSource(tmp_path), settings=settings)


def test_unwritable_index_folder_is_a_clear_error(settings, image_folder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(IndexWriteError, match="--index-dir"):
        build_index("photos", FolderSource(image_folder), settings=settings.with_(index_dir=blocker))
    full = write_error_message(OSError(errno.ENOSPC, "No space left on device", str(tmp_path)), tmp_path)
    assert "disk is full" in full and "resumes" in full


# --------------------------------------------------------------------------------------------------
# Datasets


def _art_dataset(count: int = 10):
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "artist": datasets.ClassLabel(names=["vincent-van-gogh", "claude-monet", "Unknown Artist"]),
            "style": datasets.ClassLabel(names=["Abstract_Expressionism", "Impressionism"]),
            "title": datasets.Value("string"),
            "year": datasets.Value("int32"),
        }
    )
    images = [make_image(300 + n) for n in range(count)]
    if count > 3:
        images[3] = {"bytes": b"GIF89a definitely broken", "path": None}
    return datasets.Dataset.from_dict(
        {
            "image": images,
            "artist": [n % 3 for n in range(count)],
            "style": [n % 2 for n in range(count)],
            "title": [f"Painting {n}" for n in range(count)],
            "year": [1850 + n for n in range(count)],
        },
        features=features,
    )


def test_dataset_build_keeps_readable_metadata_and_skips_broken_rows(settings, siglip):
    dataset = _art_dataset()
    report = build_index(
        "art", DatasetSource(dataset, kind="image", column="image", caption_column="title"), settings=settings
    )

    assert (report.count, [s.item for s in report.skipped]) == (9, ["row 3"])
    index = load_index("art", "siglip", settings)
    rows = {row["row"]: row for row in index.rows}
    assert set(rows) == set(range(10)) - {3}
    assert rows[0]["artist"] == "Vincent Van Gogh" and rows[0]["style"] == "Abstract Expressionism"
    assert rows[1]["artist"] == "Claude Monet" and rows[1]["style"] == "Impressionism"
    assert rows[2]["artist"] == "Unknown Artist"
    assert rows[4]["caption"] == "Painting 4" and rows[4]["year"] == 1854
    for hit in search_batch(index, siglip.embed_texts(["a painting"]), k=9)[0]:
        assert hit.thumbnail is not None and hit.thumbnail.is_file()
        assert hit.thumbnail.parent == settings.index_dir / "art" / "thumbnails"
    expected = siglip.embed_images([dataset[n]["image"] for n in sorted(rows)])
    np.testing.assert_allclose(
        index.vectors()[np.argsort([row["row"] for row in index.rows])], expected, atol=1e-6
    )
    assert index.manifest.source["type"] == "dataset" and index.manifest.source["image_column"] == "image"


def test_streamed_dataset_with_limit_grows_incrementally(settings, siglip, monkeypatch):
    dataset = _art_dataset()
    streamed = dataset.to_iterable_dataset()
    first = build_index(
        "art", DatasetSource(streamed, kind="image", column="image", limit=5), settings=settings
    )
    assert (first.count, first.skipped[0].item) == (4, "row 3")

    calls = _count_embedded(monkeypatch, siglip)
    more = build_index(
        "art",
        DatasetSource(dataset.to_iterable_dataset(), kind="image", column="image", limit=8),
        settings=settings,
    )
    assert sum(calls) == 3 and (more.added, more.kept, more.count) == (3, 4, 7)
    assert sorted(row["row"] for row in load_index("art", settings=settings).rows) == [0, 1, 2, 4, 5, 6, 7]

    in_memory = settings.with_(index_dir=settings.index_dir.parent / "in-memory")
    build_index("art", DatasetSource(dataset, kind="image", column="image", limit=8), settings=in_memory)
    streamed_index, memory_index = load_index("art", settings=settings), load_index("art", settings=in_memory)
    np.testing.assert_array_equal(
        np.stack([_by_key(streamed_index)[k] for k in sorted(_by_key(memory_index))]),
        np.stack([_by_key(memory_index)[k] for k in sorted(_by_key(memory_index))]),
    )


def test_missing_dataset_column_is_a_clear_error(settings):
    with pytest.raises(InvalidInputError, match=r"no column 'picture'.*image, artist"):
        build_index("art", DatasetSource(_art_dataset(2), kind="image", column="picture"), settings=settings)


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from core.config import Settings
from core.index import FolderSource, build_index

def progress(done, total):
    if done >= int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: like a power cut

settings = Settings.from_env().with_(index_dir=Path(sys.argv[1]), batch_size=int(sys.argv[4]))
build_index("photos", FolderSource(sys.argv[2]), settings=settings, progress=progress)
"""


@pytest.mark.slow
def test_a_killed_build_resumes(settings, siglip, image_folder, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    argv = [str(settings.index_dir), str(image_folder), str(2 * BATCH_SIZE), str(BATCH_SIZE)]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, *argv], cwd=root, capture_output=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    with pytest.raises(IndexLoadError, match="resume"):
        load_index("photos", settings=settings)

    calls = _count_embedded(monkeypatch, siglip)
    report = build_index("photos", FolderSource(image_folder), settings=settings)
    assert report.resumed == 2 * BATCH_SIZE and sum(calls) == IMAGE_COUNT - 2 * BATCH_SIZE
    assert report.count == IMAGE_COUNT
    verify_index("photos", settings)


def test_a_build_checks_its_options_once(settings, siglip, image_folder):
    from core.limits import check_choice
    from core.testing.calls import count_calls

    options = BuildOptions(batch_size=BATCH_SIZE)
    build = lambda: build_index("photos", FolderSource(image_folder), options, settings=settings)  # noqa: E731
    counts, report = count_calls(build, BuildOptions.check, check_choice)
    assert report.count == IMAGE_COUNT
    # BuildOptions.check once, and in it each fixed-choice option once: engine, image runtime, decoder.
    assert counts[BuildOptions.check] == 1 and counts[check_choice] == 3, counts
