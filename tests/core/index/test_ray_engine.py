"""The Ray engine (`BuildOptions(engine="ray")`) on one local Ray instance shared by the session.

A Ray build must be the local build of the same source: same rows, same vectors, same search results,
same resume rule. The model is the tiny SigLIP where the vectors matter, else the numpy-only fake
encoder (its actors start in about a second instead of importing torch).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.index import (
    BuildOptions,
    FolderSource,
    TextFileSource,
    build_index,
    load_index,
    search,
    search_batch,
    verify_index,
)
from tests.core.index.conftest import IMAGE_COUNT, write_images
from tests.reliability.fake_encoder import DiesOnceEncoder, FakeEncoder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
RAY = BuildOptions(engine="ray")


def _by_key(name: str, settings: Settings) -> dict[str, np.ndarray]:
    index = load_index(name, settings=settings)
    return {row["_key"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}


@pytest.mark.parametrize(
    "jpeg_decode", ["auto", "torchvision"]
)  # CPU decoding; JPEGs batched as beside a GPU
def test_a_ray_build_equals_a_local_build(ray_instance, settings, image_folder, jpeg_decode):
    (image_folder / "broken.jpg").write_bytes(b"not an image")
    local = build_index(
        "local", FolderSource(image_folder), BuildOptions(jpeg_decode=jpeg_decode), settings=settings
    )
    options = BuildOptions(engine="ray", jpeg_decode=jpeg_decode)
    on_ray = build_index("ray", FolderSource(image_folder), options, settings=settings)

    a, b = load_index("local", settings=settings), load_index("ray", settings=settings)
    assert [row["_key"] for row in b.rows] == [row["_key"] for row in a.rows]
    assert b.rows == a.rows  # metadata, sizes and thumbnails (named by their bytes) too
    np.testing.assert_allclose(b.vectors(), a.vectors(), atol=1e-5)
    assert (on_ray.count, on_ray.embedded, on_ray.skipped) == (IMAGE_COUNT, IMAGE_COUNT, local.skipped)
    assert len(on_ray.skipped) == 1 and on_ray.skipped[0].item == "broken.jpg"
    assert (b.manifest.index_type, b.manifest.model_id, b.manifest.thumbnails) == (
        a.manifest.index_type,
        a.manifest.model_id,
        a.manifest.thumbnails,
    )
    assert any("Embedded on Ray" in note for note in on_ray.notes) and on_ray.embed_seconds > 0

    queries = a.vectors()[:6] + 0.05 * np.random.default_rng(0).standard_normal((6, a.dim), np.float32)
    expected = [[(hit.key, round(hit.score, 4)) for hit in hits] for hits in search_batch(a, queries, 5)]
    found = [[(hit.key, round(hit.score, 4)) for hit in hits] for hits in search_batch(b, queries, 5)]
    assert found == expected
    by_text = [hit.key for hit in search(b, "a red square", k=5, settings=settings)]
    assert by_text == [hit.key for hit in search(a, "a red square", k=5, settings=settings)]
    verify_index("ray", settings)


def test_a_ray_text_index_equals_a_local_one(ray_instance, settings, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"caption number {n}" for n in range(30)) + "\n", encoding="utf-8")
    fake = FakeEncoder(settings)
    build_index("local", TextFileSource(texts), settings=settings, encoder=fake)
    report = build_index("ray", TextFileSource(texts), RAY, settings=settings, encoder=fake)
    assert report.embedded == 30
    a, b = load_index("local", settings=settings), load_index("ray", settings=settings)
    assert b.rows == a.rows
    np.testing.assert_array_equal(b.vectors(), a.vectors())


def test_a_worker_killed_mid_build_is_retried_and_the_index_is_complete(ray_instance, settings, image_folder):
    marker = settings.index_dir.parent / "killed-pid"
    build_index("local", FolderSource(image_folder), settings=settings, encoder=FakeEncoder(settings))
    report = build_index(
        "ray",
        FolderSource(image_folder),
        RAY,
        settings=settings,
        encoder=DiesOnceEncoder(settings, str(marker)),
    )
    killed = int(marker.read_text())
    assert killed != os.getpid()  # a worker of the cluster died, not this process
    assert (report.count, report.embedded, report.skipped) == (IMAGE_COUNT, IMAGE_COUNT, ())
    expected, found = _by_key("local", settings), _by_key("ray", settings)
    assert found.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(found[key], expected[key])
    verify_index("ray", settings)


# The driver of a Ray build in a child process, joined to the session's Ray instance, that SIGKILLs
# itself just after its first finished batch reaches `.partial/`.
KILLED_DRIVER = """
import os, signal, sys
from pathlib import Path

from core.config import Settings
from core.index import BuildOptions, FolderSource, build_index
from tests.reliability.fake_encoder import FakeEncoder

index_dir, images, address = sys.argv[1:4]
real_replace = os.replace

def replace(source, target, *args, **kwargs):
    real_replace(source, target, *args, **kwargs)
    if Path(target).match(".partial/batch-*.json"):
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
settings = Settings.from_env().with_(index_dir=Path(index_dir), batch_size=4)
options = BuildOptions(engine="ray", ray_address=address)
build_index("photos", FolderSource(images), options, settings=settings, encoder=FakeEncoder(settings))
"""


def test_an_update_whose_driver_is_killed_keeps_the_index_and_resumes(ray_instance, tmp_path):
    images = tmp_path / "images"
    write_images(images, range(12))
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for folder in (killed, clean):
        settings = Settings.from_env().with_(index_dir=folder, batch_size=4)
        build_index("photos", FolderSource(images), settings=settings, encoder=FakeEncoder(settings))
    old = _by_key("photos", Settings.from_env().with_(index_dir=killed))
    write_images(images, range(100, 108))  # the update: 8 new images (2 batches), one gone
    next(images.glob("image000.*")).unlink()
    clean_settings = Settings.from_env().with_(index_dir=clean, batch_size=4)
    build_index("photos", FolderSource(images), settings=clean_settings, encoder=FakeEncoder(clean_settings))
    expected = _by_key("photos", clean_settings)

    argv = [sys.executable, "-c", KILLED_DRIVER, str(killed), str(images), ray_instance]
    process = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=180, check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()[-3000:]

    settings = Settings.from_env().with_(index_dir=killed, batch_size=4)
    verify_index("photos", settings)  # the previous version, whole
    assert _by_key("photos", settings).keys() == old.keys()
    assert list((killed / "photos" / ".partial").glob("batch-*.json"))
    report = build_index(
        "photos", FolderSource(images), RAY, settings=settings, encoder=FakeEncoder(settings)
    )
    assert (report.added, report.removed, report.kept) == (8, 1, 11)
    assert report.resumed >= 4 and report.resumed + report.embedded == 8
    found = _by_key("photos", settings)
    assert found.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(found[key], expected[key])
    assert not (killed / "photos" / ".partial").exists()
    shutil.rmtree(killed)
