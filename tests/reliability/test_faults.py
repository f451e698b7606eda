"""Faults: a build killed at any point, a full disk, a read-only folder, a model that cannot load.

Elsewhere: a build interrupted between batches resumes without recomputing them
(tests/core/index/test_build.py::test_interrupted_build_resumes_without_recomputing_finished_batches,
test_a_killed_build_resumes); an interrupted commit keeps the previous index
(test_an_interrupted_commit_leaves_the_previous_index_intact); a file in place of the index folder
(test_unwritable_index_folder_is_a_clear_error); an uncached Hub id offline
(tests/core/test_loading.py::test_uncached_hub_id_offline_fails_fast_with_instructions).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

import app as cli
from apps import examples
from core import encoders
from core.config import Settings
from core.errors import IndexLoadError, IndexWriteError
from core.index import (
    BuildOptions,
    FolderSource,
    build_index,
    list_indexes,
    load_index,
    verify_index,
)
from tests.core.index.conftest import write_images
from tests.reliability.fake_encoder import use_fake_encoder

ROOT = Path(__file__).resolve().parents[2]
BATCH = 4

# A build in a child process that SIGKILLs itself (no cleanup, no `finally`: like a power cut) just
# before or just after the first os.replace onto a path matching the pattern: every file of an
# index is written to a temporary file and renamed into place, so these are all the points where
# what is on disk changes.
KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path

from core.config import Settings
from core.index import FolderSource, build_index
from tests.reliability.fake_encoder import use_fake_encoder

index_dir, images, pattern, when = sys.argv[1:5]
real_replace = os.replace

def replace(source, target, *args, **kwargs):
    hit = Path(target).match(pattern)
    if hit and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target, *args, **kwargs)
    if hit and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
use_fake_encoder()
settings = Settings.from_env().with_(index_dir=Path(index_dir), batch_size=4)
build_index("photos", FolderSource(images), settings=settings)
"""

#: (where the build dies, file pattern, before/after its rename, which index is live afterwards).
KILL_POINTS = (
    ("writing a batch of vectors", ".partial/batch-*.npy", "before", "old"),
    ("after a finished batch", ".partial/batch-*.json", "after", "old"),
    ("writing a thumbnail", "thumbnails/*.jpg", "before", "old"),
    ("writing the new FAISS file", "v*/index.faiss", "before", "old"),
    ("after the new version, before the manifest", "v*/metadata.jsonl", "after", "old"),
    ("writing the manifest", "manifest.json", "before", "old"),
    ("after the manifest, before the clean-up", "manifest.json", "after", "new"),
)


def by_key(folder: Path) -> dict[str, np.ndarray]:
    index = load_index("photos", settings=Settings.from_env().with_(index_dir=folder))
    return {row["_key"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}


def settings_for(folder: Path) -> Settings:
    return Settings.from_env().with_(index_dir=folder, batch_size=BATCH)


def assert_clean(index: Path) -> None:
    """Nothing is left of earlier attempts: one version folder, no temporary files, no unfinished batches."""
    debris = [p for p in index.rglob("*") if p.name.endswith(".tmp") or p.name == ".partial"]
    versions = [p.name for p in index.iterdir() if re.fullmatch(r"v\d+", p.name)]
    assert not debris and len(versions) == 1, (debris, versions)


def test_a_build_killed_at_any_point_leaves_a_good_index_and_resumes(tmp_path, monkeypatch):
    use_fake_encoder(monkeypatch.setattr)
    images = tmp_path / "images"
    write_images(images, range(12))
    good = tmp_path / "good"
    build_index("photos", FolderSource(images), settings=settings_for(good))
    old = by_key(good)
    # The update every killed build runs: four new images, one gone.
    write_images(images, range(100, 104))
    next(images.glob("image000.*")).unlink()
    clean = tmp_path / "clean"
    shutil.copytree(good, clean)
    build_index("photos", FolderSource(images), settings=settings_for(clean))
    new = by_key(clean)
    assert set(new) != set(old)

    runs = {}
    for number, (label, pattern, when, _) in enumerate(KILL_POINTS):
        folder = tmp_path / f"kill-{number}"
        shutil.copytree(good, folder)
        runs[label] = _start(folder, images, pattern, when)
    first_build = tmp_path / "kill-first-build"
    runs["first build, writing the FAISS file"] = _start(first_build, images, "v*/index.faiss", "before")
    for label, process in runs.items():
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == -9, f"{label}: the build was not killed ({stderr.decode()[-2000:]})"

    for number, (label, _, _, live) in enumerate(KILL_POINTS):
        folder = tmp_path / f"kill-{number}"
        verify_index("photos", settings_for(folder))  # checksums, structure and thumbnails
        assert set(by_key(folder)) == set(old if live == "old" else new), label
        report = build_index("photos", FolderSource(images), settings=settings_for(folder))
        assert report.count == len(new), label
        _assert_same(by_key(folder), new, label)
        verify_index("photos", settings_for(folder))
        assert_clean(folder / "photos")

    with pytest.raises(IndexLoadError, match=r"has not finished building.*resume"):
        load_index("photos", settings=settings_for(first_build))
    assert list_indexes(settings_for(first_build)) == []  # the app does not offer it
    build_index("photos", FolderSource(images), settings=settings_for(first_build))
    _assert_same(by_key(first_build), new, "first build")
    assert_clean(first_build / "photos")


def _start(folder: Path, images: Path, pattern: str, when: str) -> subprocess.Popen:
    argv = [sys.executable, "-c", KILL_SCRIPT, str(folder), str(images), pattern, when]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], label: str) -> None:
    assert got.keys() == expected.keys(), label
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{label}: {key}")


# --------------------------------------------------------------------------------------------------
# A full disk and a read-only folder (real ones: a small tmpfs, mounted when the tests run as root)


def _mount_tmpfs(folder: Path, options: str) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 2 MB file system."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "size=2m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("when", ["before the first batch", "before the commit"])
def test_a_full_disk_is_a_clear_error_and_keeps_the_index(small_disk, tmp_path, monkeypatch, when):
    use_fake_encoder(monkeypatch.setattr)
    images = tmp_path / "images"
    write_images(images, range(12))
    settings = settings_for(small_disk / "indexes")
    build_index("photos", FolderSource(images), settings=settings)
    old = by_key(settings.index_dir)
    write_images(images, range(100, 108))
    filler: list[Path] = []

    def fill_the_disk(done: int, total: int) -> None:
        if not filler and (when == "before the first batch" or done >= total):
            filler.append(fill(small_disk))

    with pytest.raises(IndexWriteError, match=r"The disk is full.*--index-dir PATH.*resumes the build"):
        build_index("photos", FolderSource(images), settings=settings, progress=fill_the_disk)
    verify_index("photos", settings)
    assert by_key(settings.index_dir).keys() == old.keys()

    filler[0].unlink()
    report = build_index("photos", FolderSource(images), settings=settings)
    assert report.count == 20 and (report.resumed > 0) == (when == "before the commit")
    verify_index("photos", settings)
    assert_clean(settings.index_dir / "photos")


def test_a_full_disk_is_one_line_in_the_cli(small_disk, tmp_path, monkeypatch, capsys):
    use_fake_encoder(monkeypatch.setattr)
    write_images(tmp_path / "images", range(8))
    fill(small_disk)
    argv = ["--index-dir", str(small_disk / "indexes"), "index", "build", "photos", "--folder"]
    assert cli.main([*argv, str(tmp_path / "images")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "The disk is full" in errors[0]


def test_a_read_only_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    use_fake_encoder(monkeypatch.setattr)
    write_images(tmp_path / "images", range(4))
    read_only = tmp_path / "read-only"
    _mount_tmpfs(read_only, "ro,size=64k")
    try:
        message = r"Cannot write to .*read-only.*\(Read-only file system\)\. Choose a writable folder"
        with pytest.raises(IndexWriteError, match=message):
            build_index("photos", FolderSource(tmp_path / "images"), settings=settings_for(read_only))
        argv = [
            "--index-dir",
            str(read_only),
            "index",
            "build",
            "photos",
            "--folder",
            str(tmp_path / "images"),
        ]
        assert cli.main(argv) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Choose a writable folder" in errors[0]
    finally:
        subprocess.run(["umount", "-l", str(read_only)], check=False)


# --------------------------------------------------------------------------------------------------
# A model that cannot load: its tab says so, the other tabs keep working


def test_a_model_that_fails_to_load_is_reported_and_the_rest_keeps_working(
    app, client, tiny_models, paintings_dir, tmp_path, assert_serving
):
    checkpoint = tmp_path / "siglip2"
    shutil.copytree(tiny_models["siglip2"], checkpoint)
    indexes = tmp_path / "indexes"
    shutil.copytree(app.settings.index_dir, indexes)
    settings = app.settings.with_(index_dir=indexes).with_model_overrides([f"siglip2={checkpoint}"])
    build_index(
        "shapes-siglip2", FolderSource(paintings_dir), BuildOptions(model_key="siglip2"), settings=settings
    )
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # the checkpoint breaks after the index was built
    encoders.clear_cache()
    photo = handle_file(examples.photo("cat.jpg"))
    with app.settings_as(settings):
        with pytest.raises(AppError, match=r"Could not load model 'siglip2' \(SigLIP 2\)"):
            client.predict("a red disc", model="siglip2", api_name="/text_search")
        gallery, _ = client.predict("a red disc", k=3, model="siglip", api_name="/text_search")
        assert len(gallery) == 3
        clip, siglip, siglip2, *notes = client.predict(photo, "cat, dog", api_name="/compare_clip_siglip")
        assert not siglip2 and notes[2].startswith(
            "**SigLIP 2 is unavailable.** Could not load model 'siglip2'"
        )
        assert all(len(label["confidences"]) == 2 for label in (clip, siglip))
        result = client.predict(photo, "Katze, Hund", api_name="/compare_multilingual")
        assert not result[1] and result[5].startswith("**SigLIP 2 is unavailable.**")
        assert all(len(result[n]["confidences"]) == 2 for n in (0, 2, 3))
    assert_serving()
