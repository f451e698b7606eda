"""Sharing indexes: what a push sends is exactly the format (and a card); a pull installs it only when
every file checks out, through the same function for a Hub download and a local snapshot folder. The
Hub is not reachable here, so the download itself is tested only for failing fast and clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.errors import IndexLoadError, InvalidInputError
from core.index import FolderSource, IndexStore, build_index, load_index, search_batch
from core.index.service.gallery import WIKIART_INDEX, start_default_gallery
from core.index.service.hub import install_snapshot, pull, stage_for_push
from core.index.service.jobs import JobState, jobs
from tests.core.index.conftest import IMAGE_COUNT, write_images


@pytest.fixture(scope="module")
def source(tiny_models, tmp_path_factory) -> Settings:
    """Settings of an index folder holding 'photos' (the test images, with titles), built once."""
    images = tmp_path_factory.mktemp("hub-images")
    write_images(images, range(IMAGE_COUNT))
    rows = [{"file_name": path.name, "title": f"Picture {path.stem}"} for path in images.glob("*.*")]
    (images / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = Settings.from_env().with_(index_dir=tmp_path_factory.mktemp("hub-indexes"))
    build_index("photos", FolderSource(images), settings=settings)
    return settings


@pytest.fixture(scope="module")
def pushed(source, tmp_path_factory) -> Path:
    """The files a push of 'photos' sends, as `stage_for_push` writes them."""
    folder = tmp_path_factory.mktemp("hub-push")
    stage_for_push(IndexStore.named("photos", source), folder, "me/photos")
    return folder


@pytest.fixture
def snapshot(pushed, tmp_path) -> Path:
    """A copy of the pushed files, as a downloaded snapshot holds them (each test may tamper with it)."""
    return Path(shutil.copytree(pushed, tmp_path / "snapshot"))


def test_a_push_sends_the_format_and_a_card_and_a_pull_installs_the_same_index(snapshot, source, settings):
    files = sorted(path.relative_to(snapshot).as_posix() for path in snapshot.rglob("*") if path.is_file())
    thumbnails = [name for name in files if name.startswith("thumbnails/")]
    assert [name for name in files if not name.startswith("thumbnails/")] == [
        "README.md", "manifest.json", "v1/index.faiss", "v1/metadata.jsonl",
    ]  # fmt: skip
    original = load_index("photos", "siglip", source)
    assert len(thumbnails) == len({row["_thumbnail"] for row in original.rows})
    card = (snapshot / "README.md").read_text()
    assert "embedded with SigLIP (`siglip`)" in card and "python app.py index pull me/photos photos" in card

    manifest = pull(str(snapshot), "copy", settings=settings)
    assert manifest.name == "copy" and manifest.count == len(original)
    copy = load_index("copy", "siglip", settings)
    queries = np.random.default_rng(0).standard_normal((3, copy.dim)).astype(np.float32)
    assert [[h.key for h in hits] for hits in search_batch(copy, queries, 5)] == [
        [h.key for h in hits] for hits in search_batch(original, queries, 5)
    ]
    assert not list(settings.index_dir.glob(".pulling-*"))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda f: (f / "v1" / "metadata.jsonl").write_text("{}\n"), "does not match the checksum"),
        (
            lambda f: next((f / "thumbnails").iterdir()).write_bytes(b"<script>"),
            "content does not match its name",
        ),
        (lambda f: (f / "evil.pkl").write_bytes(b"cos\nsystem\n"), r"not part of an index \(evil\.pkl\)"),
        (lambda f: (f / "v1" / "notes.txt").write_text("x"), r"not part of an index \(v1/notes\.txt\)"),
        (lambda f: (f / "link.jpg").symlink_to("/etc/passwd"), "symbolic link"),
        (lambda f: next((f / "thumbnails").iterdir()).unlink(), "missing"),
        (lambda f: (f / "manifest.json").write_text('{"name": "x"}'), "lacks valid fields"),
    ],
    ids=["metadata", "thumbnail", "pickle", "stray-file", "link", "missing-thumbnail", "bad-manifest"],
)
def test_a_snapshot_that_fails_any_check_installs_nothing(snapshot, settings, tamper, message):
    tamper(snapshot)
    with pytest.raises(IndexLoadError, match=message):
        install_snapshot(snapshot, "copy", settings=settings)
    assert not settings.index_dir.exists() or not list(settings.index_dir.iterdir())


def test_thumbnails_nothing_refers_to_are_left_out(snapshot, settings):
    (snapshot / "thumbnails" / ("0" * 32 + ".jpg")).write_bytes(b"not referenced")
    install_snapshot(snapshot, "copy", settings=settings)
    assert not (settings.index_dir / "copy" / "thumbnails" / ("0" * 32 + ".jpg")).exists()


def test_a_taken_name_is_refused_unless_replaced(snapshot, settings):
    install_snapshot(snapshot, "photos", settings=settings)
    with pytest.raises(InvalidInputError, match="An index named 'photos' already exists"):
        install_snapshot(snapshot, "photos", settings=settings)
    manifest = install_snapshot(snapshot, "photos", settings=settings, replace_existing=True)
    assert manifest.name == "photos" and load_index("photos", "siglip", settings).manifest == manifest


def test_pulling_from_the_hub_offline_fails_fast_and_says_what_to_do(settings):
    with pytest.raises(IndexLoadError, match=r"Could not pull me/photos: .*offline.*index pull FOLDER NAME"):
        pull("me/photos", settings=settings)
    for bad in ("not a repo", "../x", "a/b/c"):
        with pytest.raises(InvalidInputError, match="is not a dataset repo id"):
            pull(bad, settings=settings)


def test_the_default_gallery_is_pulled_from_the_gallery_repo(snapshot, settings, tmp_path):
    empty = settings.with_(index_dir=tmp_path / "fresh", gallery_repo=str(snapshot), wikiart_size=0)
    thread = start_default_gallery(empty)
    assert thread is not None
    thread.join(60)
    status = jobs.status(WIKIART_INDEX)
    assert status.state == JobState.DONE, status.message
    assert load_index(WIKIART_INDEX, "siglip", empty).manifest.count == status.result.count
    shutil.rmtree(tmp_path / "fresh")
    broken = settings.with_(index_dir=tmp_path / "fresh", gallery_repo="me/not-reachable")
    start_default_gallery(broken).join(60)
    assert jobs.status(WIKIART_INDEX).state == JobState.FAILED
    assert "Could not pull me/not-reachable" in jobs.status(WIKIART_INDEX).message
    jobs.forget(WIKIART_INDEX)
