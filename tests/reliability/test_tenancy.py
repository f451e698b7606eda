"""A public Space shared by strangers, through `gradio_client` with clients that do not trust each
other: a collection is its owner's alone until they share it (listed, searched, thumbnailed, walked and
probed by nobody else), ownership survives reconnecting with the owner token and a restart of the
app, sharing by a link or publicly, reserved names, and two creates of one name at once."""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
import urllib.parse
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from core.testing.fuzz import RawClient
from tests.apps.conftest import PAINTINGS, painting, serve
from tests.reliability.test_security import http_get


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("family-photos")
    paths = []
    for title, _, _, shape, colour in PAINTINGS[:4]:
        path = folder / f"{title.replace(' ', '-').lower()}.png"
        painting(shape, colour).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def index_dir(tiny_models, tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tenancy") / "indexes"


@pytest.fixture(scope="module")
def app(index_dir):
    with serve(index_dir) as (_, _, url, settings):
        yield _Served(url, settings)


class _Served:
    def __init__(self, url: str, settings) -> None:
        self.url, self.settings = url, settings


def client(app) -> Client:
    return Client(app.url, verbose=False)


def names(client_: Client, token: str = "") -> set[str]:
    return {row["name"] for row in client_.predict(token, api_name="/list_indexes")}


def refusal(call) -> str:
    with pytest.raises(AppError) as error:
        call()
    return str(error.value)


def create(owner: Client, name: str, pictures: list[Path], token: str = "") -> dict:
    _, report = owner.predict(
        [handle_file(str(p)) for p in pictures], name, "siglip", token, api_name="/create_index"
    )
    return report


def test_a_private_collection_is_its_owners_alone(app, pictures, index_dir):
    alice, bob = client(app), client(app)
    report = create(alice, "family", pictures)
    token = report["token"]
    assert len(token) >= 32 and report["count"] == 4
    assert "family" in names(alice) and "family" not in names(bob)
    owned = next(row for row in alice.predict(api_name="/list_indexes") if row["name"] == "family")
    assert (owned["access"], owned["yours"]) == ("private", True)
    assert token not in (index_dir / "family" / "access.json").read_text()  # only its hash is kept

    # Bob: the collection does not exist for him, in the same words as a name nobody took.
    for name in ("family", "nobody-took-this"):
        message = refusal(lambda n=name: bob.predict("a red disc", k=3, index=n, api_name="/text_search"))
        assert f"'{name}' does not exist" in message and "family" not in message.replace(f"'{name}'", "")
    probe = "upload:" + hashlib.sha256(pictures[0].read_bytes()).hexdigest()[:32]
    assert "does not exist" in refusal(lambda: bob.predict(probe, index="family", api_name="/similar"))
    assert "Choose two image indexes" in refusal(
        lambda: bob.predict("a red disc", None, "family", "family", 3, api_name="/compare_search")
    )
    assert "There is no index named 'family'" in refusal(
        lambda: bob.predict([handle_file(str(pictures[0]))], "family", api_name="/add_to_index")
    )
    assert "There is no index named 'family'" in refusal(
        lambda: bob.predict("family", api_name="/delete_index")
    )

    # Alice searches, walks and probes it; its thumbnails are copies at addresses nobody can guess.
    gallery, status = alice.predict("a red disc", k=4, index="family", api_name="/text_search")
    assert len(gallery) == 4 and "index 'family'" in status
    walked, _ = alice.predict(probe, k=2, index="family", api_name="/similar")
    assert walked[0]["caption"].startswith(pictures[0].name)
    assert all(str(index_dir) not in item["image"] and "/tmp/" not in item["caption"] for item in gallery)
    for thumbnail in (index_dir / "family" / "thumbnails").iterdir():
        assert http_get(app, "/gradio_api/file=" + str(thumbnail)) in (403, 404)
    raw = RawClient(app.url).call("text_search", ["a red disc", 4, "siglip", "family", -1, [], token])
    urls = [item["image"]["url"] for item in raw.data[0]]
    assert len(urls) == 4 and not [url for url in urls if str(index_dir) in urllib.parse.unquote(url)]
    assert {http_get(app, urllib.parse.urlsplit(url).path) for url in urls} == {200}


def test_ownership_survives_reconnecting_and_a_restart(app, pictures, index_dir):
    alice = client(app)
    token = create(alice, "trip", pictures[:2])["token"]
    again, stranger = client(app), client(app)  # a new session: the token is the only link
    assert "trip" not in names(again) and "trip" in names(again, token)
    gallery, _ = again.predict("a red disc", k=2, index="trip", token=token, api_name="/text_search")
    assert len(gallery) == 2
    _, report = again.predict([handle_file(str(pictures[2]))], "trip", token, api_name="/add_to_index")
    assert report["count"] == 3
    assert "'trip' does not exist" in refusal(
        lambda: stranger.predict("a red disc", index="trip", token="x" * 32, api_name="/text_search")
    )

    with serve(index_dir) as (_, _, url, _):  # the app restarted on the same index folder
        restarted = _Served(url, app.settings)
        owner, other = client(restarted), client(restarted)
        assert "trip" in names(owner, token) and "trip" not in names(other)
        gallery, _ = owner.predict("a red disc", k=3, index="trip", token=token, api_name="/text_search")
        assert len(gallery) == 3
        assert "Deleted index 'trip'" in owner.predict("trip", token, api_name="/delete_index")


def test_sharing_by_a_link_and_publicly(app, pictures, index_dir):
    alice, bob, carol = client(app), client(app), client(app)
    create(alice, "garden", pictures[:2])
    status = alice.predict("garden", "link", api_name="/share_index")
    link = re.search(r"\?share=([\w-]+)", status)[1]
    assert "garden" in names(bob, link) and "garden" not in names(carol)
    gallery, _ = bob.predict("a red disc", k=2, index="garden", token=link, api_name="/text_search")
    assert len(gallery) == 2
    assert "is not yours" in refusal(lambda: bob.predict("garden", link, api_name="/delete_index"))

    renewed = re.search(r"\?share=([\w-]+)", alice.predict("garden", "link", api_name="/share_index"))[1]
    assert renewed != link and "garden" not in names(bob, link) and "garden" in names(bob, renewed)

    assert "is public" in alice.predict("garden", "public", api_name="/share_index")
    gallery, _ = carol.predict("a red disc", k=2, index="garden", api_name="/text_search")
    assert len(gallery) == 2 and all(str(index_dir) not in item["image"] for item in gallery)
    assert "is private" in alice.predict("garden", "private", api_name="/share_index")
    assert "garden" not in names(carol) and "garden" not in names(bob, renewed)
    alice.predict("garden", api_name="/delete_index")


def test_the_gallerys_name_is_reserved(app, pictures):
    for name in ("wikiart", "WikiArt"):
        message = refusal(lambda n=name: create(client(app), n, pictures[:1]))
        assert "reserved for the app's gallery" in message
    assert not (app.settings.index_dir / "wikiart").exists()


def test_two_creates_of_one_name_at_once_leave_one_owner_and_no_stray_files(app, pictures, index_dir):
    staging = Path(tempfile.gettempdir())
    before = set(staging.glob("siglip-upload-*"))
    clients = [client(app) for _ in range(4)]
    start, results = threading.Barrier(len(clients)), {}

    def make(number: int) -> None:
        start.wait()
        try:
            results[number] = create(clients[number], "race", pictures[:2])["token"]
        except AppError as error:
            results[number] = error

    threads = [threading.Thread(target=make, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    won = [n for n, result in results.items() if isinstance(result, str)]
    assert len(won) == 1, results
    assert all("already exists" in str(results[n]) for n in results if n not in won)
    winner, token = won[0], results[won[0]]
    for n, other in enumerate(clients):
        assert ("race" in names(other)) == (n == winner)
    assert set(staging.glob("siglip-upload-*")) == before  # no staging folder left behind
    assert clients[winner].predict("race", token, api_name="/delete_index") == "Deleted index 'race'."
