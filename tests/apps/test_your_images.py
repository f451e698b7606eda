"""The Your images tab through the served app and `gradio_client`: create a collection from images and a
zip, search it at once, add to it (only new images embedded), share it, delete it; the ownership rule
between two sessions; limits and bad uploads as clear errors. (Privacy between strangers, restarts
and quotas: tests/reliability/test_tenancy.py.)"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from core.config import set_settings
from tests.apps.conftest import PAINTINGS, painting, serve


@pytest.fixture(scope="module")
def app(tiny_models, tmp_path_factory):
    """The app on an empty index folder."""
    with serve(tmp_path_factory.mktemp("yours") / "indexes") as (_, _, url, settings):
        yield url, settings


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("yours-pictures")
    paths = []
    for title, _, _, shape, colour in PAINTINGS[:6]:
        path = folder / f"{title.replace(' ', '-').lower()}.png"
        painting(shape, colour).save(path)
        paths.append(str(path))
    return paths


def zip_of(path: Path, entries: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return str(path)


def png(shape: str, colour: str) -> bytes:
    buffer = io.BytesIO()
    painting(shape, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_create_search_add_and_delete_a_collection(app, pictures, tmp_path):
    url, _ = app
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    trip = zip_of(
        tmp_path / "trip.zip",
        {
            "trip/beach/a.png": png("disc", "gold"),
            "trip/town/b.png": png("cross", "teal"),
            "trip/notes.txt": b"x",
        },
    )
    upload = [*(handle_file(p) for p in pictures[:3]), handle_file(trip)]
    status, report = alice.predict(upload, "holiday", "siglip", api_name="/create_index")
    assert (report["count"], report["embedded"]) == (5, 5)
    assert report["skipped"] == [{"item": "trip.zip/trip/notes.txt", "reason": "not an image"}]
    assert "Collection 'holiday' is ready" in status and "Skipped 1" in status
    assert "holiday" not in {row["name"] for row in bob.predict(api_name="/list_indexes")}  # private
    with pytest.raises(AppError, match="There is no index named 'holiday'"):
        bob.predict("holiday", "public", api_name="/share_index")  # for bob it does not exist
    assert "is public" in alice.predict("holiday", "public", api_name="/share_index")
    rows = {row["name"]: row for row in bob.predict(api_name="/list_indexes")}
    assert {k: rows["holiday"][k] for k in ("kind", "model_key", "count", "source", "access", "yours")} == {
        "kind": "image", "model_key": "siglip", "count": 5, "source": "upload", "access": "public",
        "yours": False,
    }  # fmt: skip

    gallery, status = bob.predict("a red disc", k=3, index="holiday", api_name="/text_search")
    assert len(gallery) == 3 and "index 'holiday' (5 images)" in status
    folders, _ = bob.predict(
        "a red disc", k=5, index="holiday", filters=["folder=beach"], api_name="/text_search"
    )
    assert [item["caption"].split(" · ")[0] for item in folders] == ["beach/a.png"]

    with pytest.raises(AppError, match="not yours"):
        bob.predict([handle_file(pictures[3])], "holiday", api_name="/add_to_index")
    _, report = alice.predict([handle_file(p) for p in pictures[2:]], "holiday", api_name="/add_to_index")
    assert (report["count"], report["embedded"], len(report["duplicates"])) == (8, 3, 1)

    with pytest.raises(AppError, match="not yours"):
        bob.predict("holiday", api_name="/delete_index")
    assert alice.predict("holiday", api_name="/delete_index") == "Deleted index 'holiday'."
    assert "holiday" not in {row["name"] for row in bob.predict(api_name="/list_indexes")}
    with pytest.raises(AppError, match="does not exist"):
        bob.predict("a red disc", index="holiday", api_name="/text_search")


def test_an_admin_app_lets_any_session_change_any_index(app, pictures):
    url, settings = app
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    alice.predict([handle_file(pictures[0])], "shared", "siglip2", api_name="/create_index")
    set_settings(settings.with_(admin=True))
    try:
        assert bob.predict("shared", api_name="/delete_index") == "Deleted index 'shared'."
    finally:
        set_settings(settings)


@pytest.mark.parametrize(
    ("entries", "name", "message"),
    [
        ({"../../evil.png": b"x"}, "evil", r"outside its own folder.*'\.\.' or a leading '/' are refused"),
        ({"zeros.png": bytes(3_000_000)}, "bomb", "refused as a zip bomb"),
        ({"notes.txt": b"x"}, "empty", "The upload holds no images"),
        ({"a.png": b"x"}, "../etc", "is not a valid index name"),
        ({"a.png": b"x"}, "", "is not a valid index name"),
    ],
    ids=["dot-dot", "bomb", "no-images", "bad-name", "no-name"],
)
def test_bad_uploads_and_names_are_clear_errors(app, tmp_path, entries, name, message):
    client = Client(app[0], verbose=False)
    with pytest.raises(AppError, match=message):
        client.predict(
            [handle_file(zip_of(tmp_path / "up.zip", entries))], name, "siglip", api_name="/create_index"
        )
    assert client.predict(api_name="/list_indexes") == []  # nothing half-made stays behind


def test_limits_unreadable_images_and_taken_names(app, pictures, tmp_path):
    url, settings = app
    client = Client(url, verbose=False)
    set_settings(settings.with_(upload_max_files=2))
    try:
        with pytest.raises(AppError, match="more than 2 images, the most one upload takes"):
            client.predict([handle_file(p) for p in pictures[:3]], "many", "siglip", api_name="/create_index")
    finally:
        set_settings(settings)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(AppError, match=r"Nothing could be indexed.*broken\.jpg"):
        client.predict([handle_file(str(broken))], "broken", "siglip", api_name="/create_index")
    upload = [handle_file(pictures[0]), handle_file(str(broken))]
    _, report = client.predict(upload, "mixed", "siglip", api_name="/create_index")
    assert report["count"] == 1 and [s["item"] for s in report["skipped"]] == ["broken.jpg"]
    with pytest.raises(AppError, match="An index named 'mixed' already exists"):
        client.predict([handle_file(pictures[1])], "mixed", "siglip", api_name="/create_index")
    with pytest.raises(AppError, match="No files uploaded"):
        client.predict([], "none", "siglip", api_name="/create_index")
    client.predict("mixed", api_name="/delete_index")


def test_a_collection_can_be_made_with_any_checkpoint_and_searched_with_it(app, pictures, reference_models):
    url, _ = app
    client = Client(url, verbose=False)
    reference = reference_models["metaclip2"]
    _, report = client.predict(
        [handle_file(p) for p in pictures[:3]], "meta", reference, api_name="/create_index"
    )
    assert report["count"] == 3
    token = report["token"]  # the collection is private: its owner's token opens it
    rows = {row["name"]: row for row in client.predict(token=token, api_name="/list_indexes")}
    assert rows["meta"]["model_key"] == reference
    gallery, status = client.predict(
        "a red disc", k=2, model=reference, index="meta", token=token, api_name="/text_search"
    )
    assert len(gallery) == 2 and "index 'meta'" in status
    with pytest.raises(AppError, match="Unknown model"):
        client.predict([handle_file(pictures[0])], "nope", "bert-base-uncased", api_name="/create_index")


def test_metadata_files_beside_the_images_are_taken_and_their_values_bounded(app, pictures, tmp_path):
    client = Client(app[0], verbose=False)
    table = tmp_path / "metadata.csv"
    name = Path(pictures[0]).name
    table.write_text(f"file_name,title\n{name},{'A very long title ' * 7_000}\n", encoding="utf-8")
    _, report = client.predict([handle_file(pictures[0]), handle_file(str(table))], "titled", "siglip",
                               api_name="/create_index")  # fmt: skip
    assert report["count"] == 1 and report["skipped"] == []
    (hit,), _ = client.predict("a red disc", k=1, index="titled", api_name="/text_search")
    assert hit["caption"].startswith("A very long title") and 1_000 < len(hit["caption"]) < 2_100
    client.predict("titled", api_name="/delete_index")
    table.write_text(f"file_name,title\n{name},{'x' * 200_000}\n", encoding="utf-8")  # over csv's limit
    with pytest.raises(AppError, match=r"metadata\.csv could not be read as CSV"):
        client.predict(
            [handle_file(pictures[0]), handle_file(str(table))], "titled", api_name="/create_index"
        )
