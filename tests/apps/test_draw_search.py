"""Handlers of the Draw to Search Art tab and its gallery helpers, without a browser."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageDraw

from apps import draw_search, gallery, texts
from apps.common import final
from core import encoders
from core.index import load_index, search
from core.index.searching.served import served_at_launch
from core.testing.calls import count_calls
from tests.apps.conftest import PAINTINGS, painting


def sketch_value(draw: bool = True) -> dict:
    """A Sketchpad value as Gradio hands it over: white RGBA canvas, optionally with a stroke."""
    canvas = Image.new("RGBA", (512, 512), (255, 255, 255, 255))
    if draw:
        ImageDraw.Draw(canvas).ellipse((150, 150, 350, 350), outline=(0, 0, 0, 255), width=12)
    array = np.asarray(canvas)
    return {"background": array, "layers": [], "composite": array}


def titles(items) -> list[str]:
    return [caption.split(" — ")[0] for _, caption in items]


def test_drawing_returns_k_paintings_ranked_like_the_index(app_settings):
    items, status = final(draw_search.draw_search(sketch_value(), k=5))
    assert len(items) == 5
    assert "5 nearest to your drawing" in status and "SigLIP" in status
    from core.images import sketch_to_image

    expected = search(load_index("wikiart", "siglip"), sketch_to_image(sketch_value()), 5)
    assert [path for path, _ in items] == [str(hit.thumbnail) for hit in expected]
    for (path, caption), hit in zip(items, expected, strict=True):
        title, artist, style = next(p[:3] for p in PAINTINGS if p[0] == hit.metadata["title"])
        assert caption == f"{title} — {artist} · {style} · {hit.score:.3f}"
        assert path.startswith(str(app_settings.index_dir)) and path.endswith(".jpg")


def test_an_empty_canvas_is_a_friendly_message_without_a_model_call(app_settings, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was called for an empty canvas")

    monkeypatch.setattr(gallery, "find", no_model)
    monkeypatch.setattr(encoders, "get_encoder", no_model)
    for empty in (sketch_value(draw=False), None, {"background": None, "layers": [], "composite": None}):
        items, status = final(draw_search.draw_search(empty))
        assert items == [] and status == texts.SKETCH_EMPTY


def test_text_and_image_search(app_settings):
    items, status = final(draw_search.text_search("a red disc", k=3))
    assert len(items) == 3 and "a red disc" in status
    expected = search(load_index("wikiart", "siglip"), "a red disc", 3)
    assert titles(items) == [hit.metadata["title"] for hit in expected]

    items, _ = final(draw_search.text_search("   "))
    assert items == []

    picture = app_settings.index_dir / "query.png"
    painting("disc", "red").save(picture)
    items, _ = final(draw_search.image_search(str(picture), k=12))
    assert len(items) == len(PAINTINGS)
    assert titles(items)[0] == "Red Sun"  # the same picture is its own nearest neighbour
    assert items[0][1].endswith("1.000")
    with pytest.raises(gr.Error, match="Upload a picture"):
        final(draw_search.image_search(None))


def test_the_model_selector_lists_models_with_an_index(app_settings):
    assert [key for _, key in gallery.model_choices()] == ["siglip", "siglip2"]
    assert gallery.default_model("siglip") == "siglip"
    items, status = final(draw_search.text_search("a blue moon", k=4, model="siglip2"))
    assert len(items) == 4 and "SigLIP 2" in status and "shapes-siglip2" in status
    with pytest.raises(gr.Error, match="No image index was built with CLIP"):
        final(draw_search.text_search("a cat", model="clip"))


def test_without_any_index_the_tab_says_how_to_build_one(tmp_path, app_settings):
    from core.config import set_settings

    set_settings(app_settings.with_(index_dir=tmp_path / "none"))
    assert gallery.model_choices() == []
    assert "python app.py index build wikiart --dataset huggan/wikiart" in gallery.status_markdown()
    with pytest.raises(gr.Error, match="No image index was built"):
        final(draw_search.draw_search(sketch_value()))


def test_the_default_gallery_build_fails_fast_offline_and_explains(tmp_path, app_settings, monkeypatch):
    from core.config import Settings, set_settings

    monkeypatch.setenv("SIGLIP_PROJECTS_WIKIART_SIZE", "3")
    settings = Settings.from_env().with_(index_dir=tmp_path / "empty")
    set_settings(settings)
    thread = gallery.start_default_gallery(settings)
    assert thread is not None
    thread.join(timeout=60)
    status = gallery.build_status()
    assert status.state == "failed" and "huggan/wikiart" in status.message
    assert "Building the WikiArt gallery failed" in gallery.status_markdown()
    monkeypatch.setenv("SIGLIP_PROJECTS_WIKIART_SIZE", "0")
    assert gallery.start_default_gallery(Settings.from_env().with_(index_dir=tmp_path / "empty")) is None
    assert gallery.build_status().state == "off"


def test_served_folders_are_only_thumbnail_folders(app_settings):
    folders = served_at_launch(app_settings)
    assert folders and all(folder.endswith("/thumbnails") for folder in folders)
    assert str(app_settings.index_dir / "wikiart" / "thumbnails") in folders


def test_while_the_gallery_builds_the_tab_shows_progress(tmp_path, app_settings):
    import threading

    from core.config import set_settings
    from core.errors import SiglipProjectsError
    from core.index.service.gallery import WIKIART_INDEX
    from core.index.service.jobs import jobs

    set_settings(app_settings.with_(index_dir=tmp_path / "building"))
    reported, release = threading.Event(), threading.Event()

    def build(progress):  # a background job that stops a sixth of the way, until released
        progress(320, 2000)
        reported.set()
        release.wait(30)
        raise SiglipProjectsError("stopped by the test")

    thread = jobs.start(WIKIART_INDEX, build, total=2000)
    try:
        assert reported.wait(30) and gallery.building()
        assert "320 of 2,000 paintings indexed (16%)" in gallery.status_markdown()
        with pytest.raises(gr.Error, match="still being built"):
            final(draw_search.text_search("a boat"))
    finally:
        release.set()
        thread.join(30)
        jobs.forget(WIKIART_INDEX)
    assert not gallery.building()


def test_indexes_built_with_other_checkpoints_are_not_offered(app_settings):
    from core.config import set_settings

    set_settings(
        app_settings.with_model_overrides(["siglip=/elsewhere/siglip", "siglip2=/elsewhere/siglip2"])
    )
    assert gallery.model_choices() == []
    assert "built with other checkpoints" in gallery.status_markdown()


@pytest.mark.parametrize("index", ["", "wikiart"])
def test_a_drawing_search_looks_its_model_up_once_and_checks_its_index_once(app_settings, index):
    from core.index.format.compat import check_compatible
    from core.registry import get_spec

    def run():
        return final(draw_search.draw_search(sketch_value(), k=3, index=index))

    run()  # the model loaded and the index cached: what every later request meets
    counts, (items, status) = count_calls(run, get_spec, check_compatible)
    assert len(items) == 3 and "3 nearest to your drawing" in status
    assert counts[get_spec] == 1 and counts[check_compatible] == 1, counts
