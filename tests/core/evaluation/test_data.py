"""Reading evaluation data: class folders, captioned folders, datasets, and untrusted zips."""

from __future__ import annotations

import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import InvalidInputError
from core.evaluation import (
    EvalOptions,
    Limits,
    evaluate_zeroshot,
    read_caption_folder,
    read_class_folder,
    read_classification_dataset,
    read_retrieval_dataset,
)
from core.evaluation.prompts import folder_class_names
from core.evaluation.uploads import EvalZipLimits, unpack_upload
from tests.core.evaluation.conftest import write_caption_folder, write_class_folder
from tests.core.index.conftest import make_image

# --------------------------------------------------------------------------------------------------
# Class folders


def test_a_class_folder_gives_classes_in_order_with_underscores_as_spaces(class_folder):
    data = read_class_folder(class_folder)
    assert data.classes == ("bicycle", "bird", "car", "cat", "coffee", "dog", "red apple")
    assert len(data.images) == 21 and sorted(set(data.labels)) == list(range(7))
    pairs = zip(data.images, data.labels, strict=True)
    assert all(ref.name.startswith(data.classes[label].replace(" ", "_") + "/") for ref, label in pairs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: None, "holds no class folders"),
        (lambda root: make_image(1).save(root / "loose.png"), "holds images but no class folders"),
        (lambda root: write_class_folder(root, classes=("cat",)), r"only 1 class \('cat'\).*at least two"),
        (lambda root: (write_class_folder(root, classes=("cat", "dog")), (root / "bird").mkdir()),
         "class folder 'bird' holds no image"),
    ],
    ids=["empty", "no-class-folders", "one-class", "class-without-images"],
)  # fmt: skip
def test_bad_class_folders_are_clear_errors(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(InvalidInputError, match=message):
        read_class_folder(tmp_path)


def test_a_class_whose_images_are_all_unreadable_is_named(tmp_path, settings):
    write_class_folder(tmp_path, classes=("cat", "dog"))
    (tmp_path / "bird").mkdir()
    (tmp_path / "bird" / "broken.jpg").write_bytes(b"not a jpeg")
    data = read_class_folder(tmp_path)
    with pytest.raises(
        InvalidInputError, match=r"No image of the class 'bird' could be read \(bird/broken.jpg"
    ):
        evaluate_zeroshot(data, EvalOptions(models=("siglip",)), settings=settings)


def test_unreadable_images_are_skipped_and_listed(tmp_path, settings):
    write_class_folder(tmp_path, classes=("cat", "dog"))
    (tmp_path / "dog" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    report = evaluate_zeroshot(
        read_class_folder(tmp_path), EvalOptions(models=("siglip",)), settings=settings
    )
    assert report.images == 6 and [s.item for s in report.skipped] == ["dog/truncated.png"]
    assert "could not be read as an image" in report.skipped[0].reason
    assert sum(map(sum, report.to_json()["models"]["siglip"]["confusion"])) == 6


def test_limits_refuse_too_many_images_or_classes(class_folder):
    with pytest.raises(
        InvalidInputError, match=r"holds 21 images; one run evaluates at most 20.*EVAL_MAX_IMAGES"
    ):
        read_class_folder(class_folder, Limits(max_images=20))
    with pytest.raises(InvalidInputError, match=r"has 7 classes; one run takes at most 5.*EVAL_MAX_CLASSES"):
        read_class_folder(class_folder, Limits(max_classes=5))
    assert len(read_class_folder(class_folder, Limits(21, 7)).images) == 21


def test_imagenet_wordnet_folders_get_clips_class_names():
    names, note = folder_class_names([f"n{n:08d}" for n in range(1000)])
    assert names[:3] == ["tench", "goldfish", "great white shark"] and len(names) == 1000
    assert "WordNet" in note
    assert folder_class_names(["n01440764", "golden_retriever"]) == (["n01440764", "golden retriever"], None)


# --------------------------------------------------------------------------------------------------
# Captions


def test_a_caption_folder_reads_lists_and_repeated_rows(tmp_path):
    write_caption_folder(tmp_path, count=3)
    with open(tmp_path / "metadata.jsonl", "a", encoding="utf-8") as file:
        file.write(json.dumps({"file_name": "img0.png", "caption": "one more for the first"}) + "\n")
        file.write(json.dumps({"file_name": "gone.png", "caption": "no such file"}) + "\n")
    data = read_caption_folder(tmp_path)
    assert [ref.name for ref in data.images] == ["img0.png", "img1.png", "img2.png"]
    assert data.caption_image == (0, 0, 0, 1, 1, 2, 2)
    assert data.captions[2] == "one more for the first" and "gone.png" in data.notes[0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "has no metadata.jsonl or metadata.csv"),
        ([{"file_name": "img0.png", "text": "x"}], "needs the columns 'file_name' and 'caption'"),
        ([{"file_name": "../outside.png", "caption": "x"}], "is not a file inside the folder"),
        ([{"file_name": "img0.png", "caption": ""}], "names no existing image with a non-empty 'caption'"),
    ],
    ids=["no-metadata", "no-caption-column", "outside", "no-captions"],
)
def test_bad_caption_folders_are_clear_errors(tmp_path, rows, message):
    make_image(1).save(tmp_path / "img0.png")
    make_image(2).save(tmp_path.parent / "outside.png")
    if rows is not None:
        (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(InvalidInputError, match=message):
        read_caption_folder(tmp_path)


# --------------------------------------------------------------------------------------------------
# Datasets


def test_a_dataset_with_class_labels_reads_lazily_with_names(tmp_path, class_folder):
    import datasets

    source = read_class_folder(class_folder)
    names = ["bicycle", "bird", "car", "cat", "coffee", "dog", "red_apple"]
    table = datasets.Dataset.from_dict(
        {"image": [str(ref.path) for ref in source.images], "label": list(source.labels)},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)}),
    )
    table.save_to_disk(str(tmp_path / "saved"))
    data = read_classification_dataset(str(tmp_path / "saved"), label_column="label")
    assert data.classes[-1] == "red apple" and data.labels == source.labels
    assert len(data.images) == 21 and data.images[4].data  # encoded bytes, read on access
    limited = read_classification_dataset(str(tmp_path / "saved"), label_column="label", limit=5)
    assert len(limited.images) == 5
    with pytest.raises(InvalidInputError, match=r"has no column 'class'\. Columns: image, label"):
        read_classification_dataset(str(tmp_path / "saved"), label_column="class")


def test_a_dataset_with_caption_lists_reads_every_caption(tmp_path, caption_folder):
    import datasets

    rows = [json.loads(line) for line in (caption_folder / "metadata.jsonl").read_text().splitlines()]
    table = datasets.Dataset.from_dict(
        {
            "image": [str(caption_folder / r["file_name"]) for r in rows],
            "caption": [r["caption"] for r in rows],
        }
    ).cast_column("image", datasets.Image())
    table.save_to_disk(str(tmp_path / "saved"))
    data = read_retrieval_dataset(str(tmp_path / "saved"))
    assert len(data.images) == 8 and len(data.captions) == 16 and data.caption_image[:4] == (0, 0, 1, 1)


# --------------------------------------------------------------------------------------------------
# Zips


LIMITS = EvalZipLimits.from_settings(Settings())


def zip_bytes(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_image(seed).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_zipped_folder_unpacks_to_its_classes(tmp_path):
    entries = {f"photos/{c}/{n}.png": png(n) for c in ("cat", "dog") for n in range(2)}
    entries |= {"__MACOSX/photos/._cat": b"resource fork", "photos/.DS_Store": b"x"}
    (tmp_path / "upload.zip").write_bytes(zip_bytes(entries))
    root = unpack_upload(tmp_path / "upload.zip", tmp_path / "out", LIMITS)
    assert root == tmp_path / "out" / "photos" and not (tmp_path / "out" / "__MACOSX").exists()
    assert read_class_folder(root).classes == ("cat", "dog")


@pytest.mark.parametrize(
    ("entries", "links", "message"),
    [
        ({"../evil.png": b"x"}, None, r"outside its own folder \('../evil.png'\)"),
        ({"cat/../../evil.png": b"x"}, None, "outside its own folder"),
        ({"/etc/evil.png": b"x"}, None, "outside its own folder"),
        ({"C:\\evil.png": b"x"}, None, "outside its own folder"),
        ({"cat/1.png": b"x"}, {"cat/link.png": "/etc/passwd"}, "symbolic link"),
        ({"cat/bomb.png": b"\0" * 30_000_000}, None, r"over 100:1\): refused as a zip bomb"),
        ({f"cat/{n}.png": b"x" for n in range(2001)}, None, "holds 2,001 images; one run evaluates at most"),
        ({f"notes/{n}.txt": b"x" for n in range(3201)}, None, "holds 3,201 entries; at most 3,200"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "drive", "symlink", "bomb", "too-many-images",
         "too-many-entries"],
)  # fmt: skip
def test_hostile_zips_are_refused_before_anything_is_written(tmp_path, entries, links, message):
    (tmp_path / "upload.zip").write_bytes(zip_bytes(entries, links))
    with pytest.raises(InvalidInputError, match=message):
        unpack_upload(tmp_path / "upload.zip", tmp_path / "out", LIMITS)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.png").exists()


def test_a_zip_may_not_unpack_to_more_than_its_limit(tmp_path):
    small = EvalZipLimits(max_unpacked_bytes=1000, max_entries=10, max_images=10)
    (tmp_path / "upload.zip").write_bytes(
        zip_bytes({"cat/1.png": os.urandom(600), "dog/1.png": os.urandom(600)})
    )
    with pytest.raises(InvalidInputError, match=r"unpacks to 0\.0 MB; at most 0\.0 MB"):
        unpack_upload(tmp_path / "upload.zip", tmp_path / "out", small)


def test_a_file_that_is_not_a_zip_is_a_clear_error(tmp_path):
    (tmp_path / "upload.zip").write_bytes(png(1))
    with pytest.raises(InvalidInputError, match="not a readable zip file"):
        unpack_upload(tmp_path / "upload.zip", tmp_path / "out", LIMITS)


def test_unpacking_stops_at_the_declared_size(tmp_path):
    """A header that claims fewer bytes than the entry holds cannot write more than it claimed."""
    data = zip_bytes({"cat/1.png": b"a" * 5000})
    # Patch both headers' uncompressed size (local header offset 22, central directory +24) to 100.
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    patched = bytearray(data)
    patched[local + 22 : local + 26] = (100).to_bytes(4, "little")
    patched[central + 24 : central + 28] = (100).to_bytes(4, "little")
    (tmp_path / "upload.zip").write_bytes(bytes(patched))
    with pytest.raises(InvalidInputError):
        unpack_upload(tmp_path / "upload.zip", tmp_path / "out", LIMITS)
    written = list(Path(tmp_path / "out").rglob("*.png"))
    assert all(path.stat().st_size <= 100 for path in written)


def test_an_upload_run_cleans_up_and_old_outputs_are_pruned(tmp_path, settings):
    import time

    from core.evaluation.uploads import evaluate_upload, new_output_folder

    entries = {f"photos/{c}/{n}.png": png(10 * i + n) for i, c in enumerate(("cat", "dog")) for n in range(2)}
    (tmp_path / "upload.zip").write_bytes(zip_bytes(entries))
    before = set(Path(tempfile.gettempdir()).glob("siglip-eval-upload-*"))
    result = evaluate_upload(
        tmp_path / "upload.zip", "zeroshot", EvalOptions(models=("siglip",)), settings=settings
    )
    assert result.report.images == 4 and all(path.is_file() for path in result.files)
    assert set(Path(tempfile.gettempdir()).glob("siglip-eval-upload-*")) == before  # the unpacked zip is gone
    with pytest.raises(InvalidInputError, match="The task must be one of zeroshot, retrieval"):
        evaluate_upload(tmp_path / "upload.zip", "captioning", EvalOptions(), settings=settings)
    old = new_output_folder(tmp_path / "outputs")
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    fresh = new_output_folder(tmp_path / "outputs")
    assert fresh.is_dir() and not old.exists()
