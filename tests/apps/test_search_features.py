"""The search tab's new queries through the served app and `gradio_client`: any index by name (one built
by the CLI after start-up too), combined and negative queries, filters, minimum scores, more like this,
and two indexes side by side; each equal to the core's own answer."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from core.index import FolderSource, QueryPart, build_index, combine_parts, load_index, search
from tests.apps.conftest import PAINTINGS, serve

NEW_API_NAMES = {
    "/combined_search", "/similar", "/compare_search", "/list_indexes", "/create_index", "/add_to_index",
    "/delete_index", "/share_index",
}  # fmt: skip


@pytest.fixture(scope="module")
def app(gallery_dir, tmp_path_factory):
    """The app serving a copy of the tiny gallery (tests here add indexes to it)."""
    root = tmp_path_factory.mktemp("features") / "indexes"
    shutil.copytree(gallery_dir, root)
    with serve(root) as (_, _, url, settings):
        yield url, settings


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app[0], verbose=False)


def titles(gallery: list[dict]) -> list[str]:
    return [item["caption"].split(" — ")[0] for item in gallery]


def scores(gallery: list[dict]) -> list[float]:
    return [float(item["caption"].rsplit(" · ", 1)[1]) for item in gallery]


def test_the_new_endpoints_have_their_api_names(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) >= NEW_API_NAMES


def test_an_index_built_by_the_cli_after_start_up_is_searchable_at_once(app, client, tmp_path):
    url, settings = app
    from tests.apps.conftest import write_paintings

    before = {row["name"] for row in client.predict(api_name="/list_indexes")}
    build_index("late", FolderSource(write_paintings(tmp_path)), settings=settings)
    rows = {row["name"]: row for row in client.predict(api_name="/list_indexes")}
    assert set(rows) - before == {"late"}
    assert {key: rows["late"][key] for key in ("kind", "model_key", "count")} == {
        "kind": "image", "model_key": "siglip", "count": len(PAINTINGS),
    }  # fmt: skip
    gallery, status = client.predict("a red boat", k=5, model="siglip", index="late", api_name="/text_search")
    expected = search(load_index("late", "siglip", settings), "a red boat", 5, settings=settings)
    assert titles(gallery) == [hit.metadata["title"] for hit in expected] and "index 'late'" in status
    thumbnail = Path(gallery[0]["image"]).name
    served = f"{url}gradio_api/file={settings.index_dir / 'late' / 'thumbnails' / thumbnail}"
    with urllib.request.urlopen(served, timeout=30) as response:  # served without a restart
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg"


def test_a_missing_or_mismatched_index_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"The image index 'nope' does not exist; image indexes: .*wikiart"):
        client.predict("a cat", index="nope", api_name="/text_search")
    with pytest.raises(
        AppError, match=r"Index 'shapes-siglip2' was built with model 'siglip2'.*not with 'siglip'"
    ):
        client.predict("a cat", model="siglip", index="shapes-siglip2", api_name="/text_search")


def test_combined_search_equals_the_core_formula(app, client, tmp_path):
    _, settings = app
    from tests.apps.conftest import painting

    picture = tmp_path / "query.png"
    painting("disc", "red").save(picture)
    gallery, status = client.predict(
        handle_file(str(picture)),
        "a blue moon",
        "green, black",
        0.6,
        0.8,
        0.3,
        6,
        api_name="/combined_search",
    )
    index = load_index("wikiart", "siglip", settings)
    parts = [
        QueryPart(Path(picture), 0.6), QueryPart("a blue moon", 0.8),
        QueryPart("green", 0.3, negative=True), QueryPart("black", 0.3, negative=True),
    ]  # fmt: skip
    expected = search(index, combine_parts(index, parts, settings=settings), 6)
    assert titles(gallery) == [hit.metadata["title"] for hit in expected]
    assert scores(gallery) == pytest.approx([hit.score for hit in expected], abs=2e-3)
    assert "your picture + “a blue moon” without “green”, “black”" in status


def test_filters_and_minimum_score_through_the_app(app, client):
    minimalism = [title for title, _, style, *_ in PAINTINGS if style in ("Minimalism", "Pop Art")]
    gallery, status = client.predict(
        "a red disc", k=12, filters=["style=Minimalism", "style=Pop Art"], api_name="/text_search"
    )
    assert sorted(titles(gallery)) == sorted(minimalism) and f"only {len(minimalism)} images pass" in status
    index = load_index("wikiart", "siglip", app[1])
    hits = search(index, "a red disc", 12, settings=app[1])
    floor = (hits[3].score + hits[4].score) / 2
    gallery, _ = client.predict("a red disc", k=12, min_score=floor, api_name="/text_search")
    assert titles(gallery) == [hit.metadata["title"] for hit in hits[:4]]


def test_more_like_this_starts_from_a_result_and_finds_it_first(client):
    gallery, _ = client.predict("a green field", k=4, api_name="/text_search")
    for item in gallery[:2]:
        similar, status = client.predict(item["image"], k=3, api_name="/similar")
        assert similar[0]["caption"] == item["caption"].rsplit(" · ", 1)[0] + " · 1.000"
        assert "nearest to the selected image" in status


def test_side_by_side_searches_each_index_with_its_own_model(app, client):
    _, settings = app
    result = client.predict("a red disc", None, "wikiart", "shapes-siglip2", 4, api_name="/compare_search")
    left, left_status, right, right_status = result
    for gallery, name, model in ((left, "wikiart", "siglip"), (right, "shapes-siglip2", "siglip2")):
        expected = search(load_index(name, model, settings), "a red disc", 4, settings=settings)
        shown = [item["caption"].split(" · ")[:2] for item in gallery]  # score first, then the title
        assert shown == [
            [f"{hit.score:.3f}", f"{hit.metadata['title']} — {hit.metadata['artist']}"] for hit in expected
        ]
    assert left_status.startswith("**SigLIP**") and right_status.startswith("**SigLIP 2**")
