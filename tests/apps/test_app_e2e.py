"""The whole app served on a free localhost port with tiny models and a tiny gallery, driven through
`gradio_client` with every API name (the calls the README shows)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from apps import examples
from core.images import sketch_to_image
from core.index import load_index, search
from core.zeroshot import classify
from tests.apps.conftest import PAINTINGS

API_NAMES = {
    "/draw_search",
    "/text_search",
    "/image_search",
    "/compare_clip_siglip",
    "/compare_multilingual",
    "/evaluate",
}


@pytest.fixture(scope="module")
def client(live_app) -> Client:
    return Client(live_app.url, verbose=False)


def confidences(label: dict) -> dict[str, float]:
    """gr.Label's API value {"label", "confidences": [{"label", "confidence"}]} -> {label: score}."""
    return {row["label"]: row["confidence"] for row in label["confidences"]}


def sketch_file(tmp_path: Path) -> str:
    canvas = Image.new("RGBA", (400, 400), (255, 255, 255, 255))
    ImageDraw.Draw(canvas).line((40, 360, 360, 40), fill=(0, 0, 0, 255), width=14)
    path = tmp_path / "sketch.png"
    canvas.save(path)
    return str(path)


def test_every_action_has_its_api_name(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) >= API_NAMES


def test_draw_search(client, live_app, tmp_path):
    drawing = sketch_file(tmp_path)
    gallery, status = client.predict(
        {"background": None, "layers": [], "composite": handle_file(drawing)}, api_name="/draw_search"
    )
    assert len(gallery) == 9 and "9 nearest to your drawing" in status
    index = load_index("wikiart", "siglip", live_app.settings)
    expected = search(index, sketch_to_image(Image.open(drawing)), 9, settings=live_app.settings)
    by_title = {p[0]: p for p in PAINTINGS}
    for item, hit in zip(gallery, expected, strict=True):
        title, artist, style, *_ = by_title[hit.metadata["title"]]
        text, score = item["caption"].rsplit(" · ", 1)
        assert text == f"{title} — {artist} · {style}"
        assert float(score) == pytest.approx(hit.score, abs=2e-3)
        assert Path(item["image"]).is_file()


def test_draw_search_with_an_empty_canvas(client, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), "white").save(blank)
    gallery, status = client.predict(
        {"background": None, "layers": [], "composite": handle_file(str(blank))}, k=4, api_name="/draw_search"
    )
    assert gallery == [] and "canvas is empty" in status


def test_text_search_with_k_and_model(client):
    gallery, status = client.predict("a red disc", k=3, model="siglip2", api_name="/text_search")
    assert len(gallery) == 3 and "SigLIP 2" in status
    assert all(" — " in item["caption"] and Path(item["image"]).is_file() for item in gallery)


def test_image_search_finds_the_same_painting_first(client, tmp_path):
    from tests.apps.conftest import painting

    path = tmp_path / "query.png"
    painting("square", "green").save(path)
    gallery, _ = client.predict(handle_file(str(path)), k=2, api_name="/image_search")
    assert len(gallery) == 2
    assert gallery[0]["caption"].startswith("Green Field — Grace Hopper · Color Field · 1.000")
    assert np.asarray(Image.open(gallery[0]["image"])).shape[-1] == 3


def test_compare_clip_siglip_with_image_and_labels_alone(client):
    labels = "cat, dog, car, rocket"
    result = client.predict(handle_file(examples.photo("cat.jpg")), labels, api_name="/compare_clip_siglip")
    clip, siglip, siglip2, *notes = result
    assert len(notes) == 3 and all("Scores sum to" in note for note in notes)
    photo = examples.load_photo("cat.jpg")
    for label, key in ((clip, "clip"), (siglip, "siglip"), (siglip2, "siglip2")):
        expected = classify(photo, labels, model=key)
        assert label["label"] == expected[0]["label"]
        assert confidences(label) == pytest.approx({r["label"]: r["score"] for r in expected}, rel=1e-4)
    assert math.isclose(sum(confidences(clip).values()), 1.0, rel_tol=1e-4)


def test_compare_clip_siglip_top_k_and_template(client):
    result = client.predict(
        handle_file(examples.photo("coffee.jpg")),
        "coffee, tea, soup, juice",
        template="a photo of {}",
        top_k=2,
        api_name="/compare_clip_siglip",
    )
    assert all(len(label["confidences"]) == 2 for label in result[:3])


def test_compare_clip_siglip_reports_bad_labels(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="No labels given"):
        client.predict(handle_file(examples.photo("cat.jpg")), " , ", api_name="/compare_clip_siglip")


def test_compare_multilingual(client):
    labels = "Katze, Hund, Auto"
    result = client.predict(handle_file(examples.photo("cat.jpg")), labels, api_name="/compare_multilingual")
    language = result[-1]
    assert len(result) == 9
    assert "German" not in language and "English" in language  # no letters that give German away
    for label in result[:4]:
        assert set(confidences(label)) == {"Katze", "Hund", "Auto"}
    result = client.predict(
        handle_file(examples.photo("astronaut.jpg")),
        "宇宙飛行士、パイロット、コック",
        language="auto",
        api_name="/compare_multilingual",
    )
    assert "Japanese" in result[-1]
    nllb = classify(
        examples.load_photo("astronaut.jpg"),
        "宇宙飛行士、パイロット、コック",
        model="nllb-clip",
        template="{}",
        language="jpn_Jpan",
    )
    assert confidences(result[2]) == pytest.approx({r["label"]: r["score"] for r in nllb}, rel=1e-4)


def test_a_model_that_cannot_load_is_reported_in_its_own_column(client, live_app, tmp_path):
    from core.config import set_settings

    set_settings(live_app.settings.with_model_overrides([f"clip={tmp_path / 'missing'}"]))
    try:
        clip, siglip, siglip2, clip_note, *_ = client.predict(
            handle_file(examples.photo("cat.jpg")), "cat, dog", api_name="/compare_clip_siglip"
        )
    finally:
        set_settings(live_app.settings)
    assert not clip  # gr.Label sends {} for no value
    assert clip_note.startswith("**CLIP is unavailable.**") and "Could not load model 'clip'" in clip_note
    assert set(confidences(siglip)) == set(confidences(siglip2)) == {"cat", "dog"}
