"""Images uploaded in the app: checked before anything is built, keyed by content, added to
incrementally (only new images are embedded); deleting an index."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from core.errors import IndexLoadError, IndexWriteError, InvalidInputError
from core.index import BuildOptions, IndexStore, build_index, load_index
from core.index.sources import UploadLimits, UploadSource, scan_upload
from tests.core.index.conftest import make_image

LIMITS = UploadLimits(max_files=10, max_bytes=2_000_000)


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_image(seed).save(buffer, "PNG")
    return buffer.getvalue()


def files(folder: Path, seeds: list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"photo{seed}.png"
        path.write_bytes(png(seed))
        paths.append(path)
    return paths


def zipped(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def build(name: str, source: UploadSource, settings):
    return build_index(name, source, BuildOptions(model_key="siglip"), settings=settings)


def test_an_upload_lists_its_images_with_metadata_from_a_sidecar(tmp_path):
    sidecar = "".join(
        json.dumps(row) + "\n"
        for row in ({"file_name": "beach/1.png", "place": "Nice"}, {"file_name": "2.png", "place": "Oslo"})
    )
    archive = zipped(
        tmp_path / "trip.zip",
        {
            "trip/beach/1.png": png(1),
            "trip/2.png": png(2),
            "trip/notes.txt": b"hi",
            "trip/metadata.jsonl": sidecar.encode(),
        },
    )
    (loose,) = files(tmp_path / "loose", [3])
    (tmp_path / "readme.pdf").write_bytes(b"%PDF")
    upload = scan_upload([archive, loose, tmp_path / "readme.pdf"], LIMITS)
    assert [entry.label for entry in upload.entries] == ["beach/1.png", "2.png", "photo3.png"]
    assert upload.skipped == (
        ("trip.zip/trip/notes.txt", "not an image"),
        ("readme.pdf", "not an image or a .zip"),
    )
    items = list(UploadSource("trip", upload, LIMITS).items())
    assert [item.metadata for item in items] == [
        {"folder": "beach", "place": "Nice", "path": "beach/1.png"},
        {"place": "Oslo", "path": "2.png"},
        {"path": "photo3.png"},
    ]
    assert all(item.key.startswith("upload:") and item.data for item in items)


def test_upload_limits_are_checked_before_anything_is_read(tmp_path):
    photos = files(tmp_path / "many", list(range(11)))
    with pytest.raises(InvalidInputError, match=r"more than 10 images.*SIGLIP_PROJECTS_UPLOAD_MAX_FILES"):
        scan_upload(photos, LIMITS)
    big = zipped(tmp_path / "big.zip", {f"{n}.png": os.urandom(800_000) for n in range(3)})
    with pytest.raises(InvalidInputError, match=r"The zip 'big.zip' unpacks to 2.4 MB; at most 2.0 MB"):
        scan_upload([big], LIMITS)
    halves = [zipped(tmp_path / f"half{n}.zip", {"a.png": os.urandom(1_200_000)}) for n in range(2)]
    with pytest.raises(
        InvalidInputError, match=r"2.4 MB .*over the limit of 2.0 MB \(SIGLIP_PROJECTS_UPLOAD_MAX_MB\)"
    ):
        scan_upload(halves, LIMITS)
    with pytest.raises(InvalidInputError, match="outside its own folder"):
        scan_upload([zipped(tmp_path / "evil.zip", {"../../evil.png": png(1)})], LIMITS)
    with pytest.raises(InvalidInputError, match="The upload holds no images"):
        scan_upload([zipped(tmp_path / "txt.zip", {"a.txt": b"x"})], LIMITS)
    with pytest.raises(InvalidInputError, match="No files uploaded"):
        scan_upload([], LIMITS)


def test_adding_embeds_only_new_images_and_skips_unreadable_ones(settings, tmp_path):
    first = scan_upload(files(tmp_path / "a", [1, 2, 3]), LIMITS)
    report = build("mine", UploadSource("mine", first, LIMITS), settings)
    assert (report.count, report.embedded) == (3, 3)

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.jpg").write_bytes(b"not a jpeg")
    again = [*files(tmp_path / "b", [2, 3, 4, 5]), tmp_path / "b" / "broken.jpg"]
    existing = load_index("mine", "siglip", settings)
    source = UploadSource("mine", scan_upload(again, LIMITS), LIMITS, existing=existing)
    report = build("mine", source, settings)
    assert (report.count, report.embedded, report.kept, report.removed) == (5, 2, 3, 0)
    assert source.duplicates == ["photo2.png", "photo3.png"]
    assert [skip.item for skip in report.skipped] == ["broken.jpg"]
    index = load_index("mine", "siglip", settings)
    assert [row["path"] for row in index.rows] == [
        "photo1.png",
        "photo2.png",
        "photo3.png",
        "photo4.png",
        "photo5.png",
    ]


def test_an_upload_cannot_extend_an_index_built_from_elsewhere(settings, image_folder, tmp_path):
    from core.index import FolderSource

    build_index("photos", FolderSource(image_folder), settings=settings)
    upload = scan_upload(files(tmp_path / "a", [1]), LIMITS)
    existing = load_index("photos", "siglip", settings)
    with pytest.raises(
        InvalidInputError, match=r"holds images from folder .*this build reads images from images uploaded"
    ):
        build("photos", UploadSource("photos", upload, LIMITS, existing=existing), settings)


def test_deleting_an_index_removes_its_folder_and_waits_for_no_build(settings, tmp_path):
    build("mine", UploadSource("mine", scan_upload(files(tmp_path / "a", [1]), LIMITS), LIMITS), settings)
    store = IndexStore.named("mine", settings)
    with store.lock(), pytest.raises(IndexWriteError, match="Another build of index 'mine' is running"):
        IndexStore.named("mine", settings).delete()
    store.delete()
    assert not store.folder.exists() and not list(store.folder.parent.iterdir())
    with pytest.raises(IndexLoadError, match="No index named 'mine'"):
        store.delete()
    with pytest.raises(IndexLoadError, match="No index named 'mine'"):
        load_index("mine", settings=settings)
