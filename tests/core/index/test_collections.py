"""Collections made in the app: background builds with progress, incremental adds, deletion, limits, and
the ownership rule (only the owner, or an admin, changes a collection; for anyone else a private one
does not exist). The app-level tests with several clients are in tests/reliability/test_tenancy.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import IndexLoadError, InvalidInputError, UnknownModelError
from core.index import load_index
from core.index.format.access import Caller
from core.index.format.catalog import catalog
from core.index.service import collections, owners
from core.index.service.jobs import JobState, jobs
from tests.core.index.test_uploads import files


def finish(name: str):
    """Follow job `name` to its end (as the app does) and return its last status and the progress seen."""
    seen = list(jobs.follow(name, every=0.05))
    return seen[-1], [(status.done, status.total) for status in seen]


ALICE = Caller.of(token="alice-owner-token-0001")
BOB = Caller.of(token="bob-owner-token-00000002")


@pytest.fixture
def upload(tmp_path) -> list[Path]:
    return files(tmp_path / "upload", [1, 2, 3])


def test_create_follow_add_and_delete(settings, upload, tmp_path):
    collections.start_create("trip", upload, "siglip", caller=ALICE, settings=settings)
    for path in upload:  # Gradio's cache cleaning may remove the uploads at any time
        path.unlink()
    status, progress = finish("trip")
    assert status.state == JobState.DONE, status.message
    assert status.result.as_dict()["count"] == 3 and progress[-1] == (3, 3)
    assert [entry.name for entry in catalog(settings).entries()] == ["trip"]

    more = files(tmp_path / "more", [3, 4])
    with pytest.raises(IndexLoadError, match="There is no index named 'trip'"):  # private: not there
        collections.start_add("trip", more, caller=BOB, settings=settings)
    collections.start_add("trip", more, caller=ALICE, settings=settings)
    status, _ = finish("trip")
    report = status.result.as_dict()
    assert (report["count"], report["embedded"], report["duplicates"]) == (4, 1, ["photo3.png"])

    with pytest.raises(IndexLoadError, match="There is no index named 'trip'"):
        collections.delete("trip", caller=BOB, settings=settings)
    owners.share("trip", "public", caller=ALICE, settings=settings)  # now Bob sees it, and still may not
    with pytest.raises(InvalidInputError, match="Index 'trip' is not yours"):
        collections.delete("trip", caller=BOB, settings=settings)
    collections.delete("trip", caller=ALICE, settings=settings)
    assert catalog(settings).entries() == []
    with pytest.raises(IndexLoadError, match="No index named 'trip'"):
        load_index("trip", settings=settings)


def test_an_admin_may_change_any_index_and_nobody_owns_cli_indexes(settings, image_folder, upload):
    from core.index import FolderSource, build_index

    build_index("photos", FolderSource(image_folder), settings=settings)
    with pytest.raises(InvalidInputError, match=r"is not yours.*SIGLIP_PROJECTS_ADMIN=1"):
        collections.delete("photos", caller=ALICE, settings=settings)
    with pytest.raises(InvalidInputError, match="Index 'photos' is not yours"):
        collections.start_add("photos", upload, caller=ALICE, settings=settings)
    admin = Caller(admin=True)
    with pytest.raises(InvalidInputError, match=r"built from folder .*not from uploads"):
        collections.start_add("photos", upload, caller=admin, settings=settings)
    collections.delete("photos", caller=admin, settings=settings)
    assert catalog(settings).entries() == []


def test_names_limits_and_failed_builds(settings, upload, tmp_path):
    for bad in ("../etc", "", "a/b", "x" * 65, ".hidden"):
        with pytest.raises(InvalidInputError, match="not a valid index name"):
            collections.start_create(bad, upload, "siglip", caller=ALICE, settings=settings)
    with pytest.raises(UnknownModelError, match="Unknown model 'dinov2'"):
        collections.start_create("mine", upload, "dinov2", caller=ALICE, settings=settings)
    with pytest.raises(InvalidInputError, match=r"would hold 3 images; one collection holds at most 2"):
        collections.start_create(
            "mine", upload, "siglip", caller=ALICE, settings=settings.with_(collection_max_images=2)
        )

    collections.start_create("mine", upload, "siglip", caller=ALICE, settings=settings)
    assert finish("mine")[0].state == JobState.DONE
    with pytest.raises(InvalidInputError, match="An index named 'mine' already exists"):
        collections.start_create("mine", upload, "siglip", caller=ALICE, settings=settings)
    with pytest.raises(InvalidInputError, match="already keeps 1 collections, its limit"):
        collections.start_create(
            "other", upload, "siglip", caller=ALICE, settings=settings.with_(max_collections=1)
        )

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    collections.start_create("broken", [broken], "siglip", caller=ALICE, settings=settings)
    status, _ = finish("broken")
    assert status.state == JobState.FAILED and "Nothing could be indexed" in status.message
    assert not (settings.index_dir / "broken").exists()  # the name can be used again
