"""Bad input, end to end: every case gets a clear message through the served app (or the CLI), and the
app answers a good request right after it.

Unit tests of the same guards: tests/core/test_images.py (modes, bombs, truncated files),
tests/core/test_zeroshot.py (labels), tests/core/index/test_search.py (k, damaged and mismatched indexes).
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

import app as cli
from apps import examples, texts
from apps.draw_search import MAX_K
from benchmarks.load_test import OTHER_INDEX
from core.images import to_rgb
from tests.apps.conftest import PAINTINGS


def square(background: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (64, 64), background)
    ImageDraw.Draw(image).rectangle((16, 16, 48, 48), fill=(0, 128, 0, 255)[: len(mode)])
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, str]:
    """Uploads of every kind, by name."""
    folder = tmp_path_factory.mktemp("uploads")
    ramp = np.linspace(1000, 3000, 64 * 64, dtype=np.uint16).reshape(64, 64)
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue", "green")]
    made: dict[str, bytes] = {
        "grayscale.png": encoded(square((200, 30, 60)).convert("L")),
        "cmyk.jpg": encoded(square((200, 30, 60)).convert("CMYK"), "JPEG"),
        "rgba.png": encoded(square((255, 0, 0, 0), "RGBA")),  # transparent background
        "on-white.png": encoded(square((255, 255, 255))),
        "16bit.png": encoded(Image.fromarray(ramp)),
        "palette.png": encoded(square((200, 30, 60)).convert("P")),
        "palette-transparent.gif": encoded(square((200, 30, 60)).convert("P"), "GIF", transparency=0),
        "animated.gif": encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "1x1.png": encoded(Image.new("RGB", (1, 1), "red")),
        "bomb.png": encoded(Image.new("1", (20000, 20000))),  # 400 Mpx in a few kB
        "too-many-pixels.png": encoded(Image.new("1", (9000, 8000))),  # under PIL's own limit
        "not-an-image.jpg": b"%PDF-1.4 a document, not a picture",
        "truncated.jpg": encoded(square((10, 200, 90)), "JPEG")[:300],
        "blank-canvas.png": encoded(Image.new("RGBA", (512, 512), (255, 255, 255, 255))),
    }
    paths = {}
    for name, data in made.items():
        (folder / name).write_bytes(data)
        paths[name] = str(folder / name)
    # The 16-bit ramp as the app must see it (its own range scaled to 8 bits), saved in 8 bits.
    to_rgb(Image.fromarray(ramp)).save(folder / "16bit-as-8bit.png")
    paths["16bit-as-8bit.png"] = str(folder / "16bit-as-8bit.png")
    return paths


def sketch(path: str) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(path)}


def scores(gallery: list[dict]) -> list[tuple[str, str]]:
    return [tuple(item["caption"].rsplit(" · ", 1)) for item in gallery]


# --------------------------------------------------------------------------------------------------
# Images


@pytest.mark.parametrize(
    "name",
    ["grayscale.png", "cmyk.jpg", "rgba.png", "16bit.png", "palette.png", "palette-transparent.gif",
     "animated.gif", "1x1.png"],
)  # fmt: skip
def test_every_image_mode_and_size_is_accepted(client, files, name):
    gallery, status = client.predict(handle_file(files[name]), k=3, api_name="/image_search")
    assert len(gallery) == 3 and "3 nearest to your picture" in status


def test_the_zero_shot_tabs_accept_them_too(client, files):
    for name in ("16bit.png", "cmyk.jpg", "animated.gif"):
        result = client.predict(handle_file(files[name]), "cat, dog", api_name="/compare_clip_siglip")
        assert {row["label"] for row in result[0]["confidences"]} == {"cat", "dog"}
        result = client.predict(handle_file(files[name]), "Katze, Hund", api_name="/compare_multilingual")
        assert {row["label"] for row in result[0]["confidences"]} == {"Katze", "Hund"}


def test_uploads_reach_the_model_as_the_core_converts_them(client, files):
    """Transparency is white and 16-bit images use their own range: the upload is not converted by
    Gradio first (which would turn transparent pixels black and clip 16-bit values to white)."""

    def search(name: str) -> list[tuple[str, str]]:
        return scores(client.predict(handle_file(files[name]), k=5, api_name="/image_search")[0])

    assert search("rgba.png") == search("on-white.png")
    assert search("16bit.png") == search("16bit-as-8bit.png")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bomb.png", "far more than 64,000,000 pixels, too many to decode safely. Resize it"),
        ("too-many-pixels.png", "9000x8000 pixels, over the limit of 64,000,000 pixels. Resize it"),
        ("not-an-image.jpg", "could not be read as an image: it is not an image file.*Use a JPEG, PNG"),
        ("truncated.jpg", "could not be read as an image.*Use a JPEG, PNG"),
    ],
)
def test_unusable_images_are_clear_errors(client, files, name, message, assert_serving):
    with pytest.raises(AppError, match=message) as error:
        client.predict(handle_file(files[name]), api_name="/image_search")
    assert "/tmp" not in str(error.value) and "gradio" not in str(error.value)  # no server paths
    assert_serving()


@pytest.mark.parametrize("endpoint", ["/compare_clip_siglip", "/compare_multilingual"])
@pytest.mark.parametrize("name", ["bomb.png", "not-an-image.jpg"])
def test_the_zero_shot_tabs_refuse_them_alike(client, files, endpoint, name, assert_serving):
    with pytest.raises(AppError, match=r"too many to decode safely|could not be read as an image"):
        client.predict(handle_file(files[name]), "a, b", api_name=endpoint)
    assert_serving()


@pytest.mark.parametrize("name", ["bomb.png", "not-an-image.jpg"])
def test_unusable_drawings_are_clear_errors(client, files, name, assert_serving):
    with pytest.raises(AppError, match=r"could not be read|too many to decode"):
        client.predict(sketch(files[name]), api_name="/draw_search")
    assert_serving()


def test_an_empty_sketch_says_so(client, files, assert_serving):
    gallery, status = client.predict(sketch(files["blank-canvas.png"]), api_name="/draw_search")
    assert gallery == [] and status == texts.SKETCH_EMPTY
    gallery, status = client.predict(
        {"background": None, "layers": [], "composite": None}, api_name="/draw_search"
    )
    assert gallery == [] and status == texts.SKETCH_EMPTY
    assert_serving()


# --------------------------------------------------------------------------------------------------
# Labels


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("", "No labels given. Type the candidate labels separated by commas"),
        ("   ,  ,\t, ", "No labels given"),
        (", ".join(f"label {n}" for n in range(51)), "51 labels given; at most 50 are compared at once"),
        ("x" * 10_000, "is 10,000 characters long; keep each label under 300 characters"),
    ],
    ids=["empty", "whitespace", "51-labels", "10000-chars"],
)
def test_bad_labels_are_clear_errors(client, labels, message, assert_serving):
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(examples.photo("cat.jpg")), labels, api_name="/compare_clip_siglip")
    assert_serving()


def test_the_multilingual_tab_checks_labels_alike(client, assert_serving):
    for labels in (" , ", ", ".join(f"l{n}" for n in range(51)), "x" * 10_000):
        with pytest.raises(AppError, match=r"No labels given|at most 50|10,000 characters"):
            client.predict(handle_file(examples.photo("cat.jpg")), labels, api_name="/compare_multilingual")
    assert_serving()


def test_a_single_label_works_and_softmax_columns_explain_their_100_percent(client, files):
    clip, siglip, _, clip_note, siglip_note, _ = client.predict(
        handle_file(files["grayscale.png"]), "cat", api_name="/compare_clip_siglip"
    )
    assert clip["confidences"] == [{"label": "cat", "confidence": 1.0}]
    assert clip_note.startswith(texts.SINGLE_LABEL_SOFTMAX)
    assert 0 < siglip["confidences"][0]["confidence"] < 1 and "Scores sum to" in siglip_note


@pytest.mark.parametrize(
    "labels",
    ["🐱, 🐶, 🚗", "قطة، كلب، سيارة", "猫、犬、車", "🐱, قطة, 猫, כלב, cat"],
    ids=["emoji", "arabic", "cjk", "mixed-with-hebrew"],
)
def test_emoji_right_to_left_and_cjk_labels_come_back_unchanged(client, files, labels):
    from core.zeroshot import parse_labels

    expected = set(parse_labels(labels))
    for endpoint, models in (("/compare_multilingual", 4), ("/compare_clip_siglip", 3)):
        result = client.predict(handle_file(files["on-white.png"]), labels, top_k=50, api_name=endpoint)
        for label in result[:models]:
            assert {row["label"] for row in label["confidences"]} == expected, endpoint


# --------------------------------------------------------------------------------------------------
# k, models and indexes


@pytest.mark.parametrize(
    ("k", "message"),
    [(0, "less than minimum value 1"), (-5, "less than minimum value 1"), (MAX_K + 1, "greater")],
)
def test_k_outside_the_slider_is_refused_with_its_range(client, k, message, assert_serving):
    with pytest.raises(AppError, match=message):
        client.predict("a red disc", k=k, api_name="/text_search")
    assert_serving()


def test_k_larger_than_the_index_gives_the_whole_index_with_a_note(client):
    gallery, status = client.predict("a red disc", k=30, api_name="/text_search")
    assert len(gallery) == len(PAINTINGS)
    assert f"you asked for 30, so these are all {len(PAINTINGS)} images of the index" in status


def test_k_must_be_a_number_from_one_for_direct_callers_too():
    import gradio as gr

    from apps.common import final
    from apps.draw_search import text_search

    for k in (0, -1, float("nan"), "many", None):
        with pytest.raises(gr.Error, match=r"must be a whole number from 1 to 48.*Results slider"):
            final(text_search("a cat", k=k))


def test_an_unknown_model_key_is_a_clear_error(client, assert_serving):
    with pytest.raises(AppError, match=r"Unknown model 'dinov2'\. Known models: siglip, siglip2"):
        client.predict("a red disc", model="dinov2", api_name="/text_search")
    with pytest.raises(AppError, match=r"No image index was built with CLIP \('clip'\).*index build"):
        client.predict("a red disc", model="clip", api_name="/text_search")
    assert_serving()


def test_an_unreachable_hub_fails_fast_in_its_own_column(app, client, files, assert_serving):
    import time

    offline = app.settings.with_model_overrides(["mclip-text=sentence-transformers/not-in-the-cache"])
    started = time.monotonic()
    with app.settings_as(offline):
        result = client.predict(
            handle_file(files["on-white.png"]), "Katze, Hund", api_name="/compare_multilingual"
        )
    assert time.monotonic() - started < 30  # HF_HUB_OFFLINE: no retries
    siglip_ml, _, nllb, mclip, *notes = result
    assert not mclip and notes[3].startswith("**Multilingual CLIP is unavailable.**")
    assert "SIGLIP_PROJECTS_MODEL_MCLIP_TEXT=/path/to/folder" in notes[3]
    assert all(
        {row["label"] for row in label["confidences"]} == {"Katze", "Hund"} for label in (siglip_ml, nllb)
    )
    assert_serving()


def test_a_missing_index_says_how_to_build_one(app, client, tmp_path, assert_serving):
    with (
        app.settings_as(app.settings.with_(index_dir=tmp_path / "no-indexes")),
        pytest.raises(AppError, match=r"No image index was built with SigLIP.*python app.py index build"),
    ):
        client.predict("a red disc", api_name="/text_search")
    assert_serving()


def test_a_corrupt_index_is_refused_with_how_to_rebuild_it(app, client, tmp_path, assert_serving):
    copy = tmp_path / "indexes"
    shutil.copytree(app.settings.index_dir, copy)
    (data,) = (copy / "wikiart").glob("v*/index.faiss")
    blob = bytearray(data.read_bytes())
    blob[-5] ^= 0xFF
    data.write_bytes(bytes(blob))
    with (
        app.settings_as(app.settings.with_(index_dir=copy)),
        pytest.raises(
            AppError, match=r"Index 'wikiart' is damaged.*checksum.*index build wikiart.*--rebuild"
        ),
    ):
        client.predict("a red disc", api_name="/text_search")
    assert_serving()


def test_an_index_built_with_another_checkpoint_names_both(app, client, tiny_models, assert_serving):
    other = app.settings.with_model_overrides([f"siglip={tiny_models['siglip-multilingual']}"])
    with (
        app.settings_as(other),
        pytest.raises(AppError, match=r"built with model 'siglip' \(.*/siglip, 32-d\), not with 'siglip'"),
    ):
        client.predict("a red disc", api_name="/text_search")
    assert_serving()


def test_other_bad_choices_are_clear_errors(client, files, assert_serving):
    photo = handle_file(files["on-white.png"])
    with pytest.raises(AppError, match="'klingon' is not an NLLB language code"):
        client.predict(photo, "a, b", language="klingon", api_name="/compare_multilingual")
    with pytest.raises(AppError, match=r"has no \{\} where the label goes"):
        client.predict(photo, "a, b", template="a photo", api_name="/compare_clip_siglip")
    with pytest.raises(AppError, match="Upload a picture first"):
        client.predict(None, api_name="/image_search")
    assert_serving()


# --------------------------------------------------------------------------------------------------
# The command line: one line, exit code 2


@pytest.fixture
def run_cli(app, capsys):
    def run(*argv: str) -> tuple[int, str]:
        code = cli.main(["--index-dir", str(app.settings.index_dir), *argv])
        err = capsys.readouterr().err
        return code, err

    return run


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "search", "wikiart", "--image", "{bomb.png}"], "too many to decode safely"),
        (["index", "search", "wikiart", "--image", "{not-an-image.jpg}"], "could not be read as an image"),
        (["index", "search", "wikiart", "--image", "{truncated.jpg}"], "could not be read as an image"),
        (["index", "search", "wikiart", "--text", "a", "-k", "0"], "k must be a whole number of at least"),
        (["index", "search", "wikiart", "--text", "   "], "The query text is empty"),
        (["index", "search", "missing", "--text", "a cat"], "No index named 'missing'"),
        (["--model", "siglip=google/not-in-the-cache", "index", "search", "wikiart", "--text", "a"],
         "Could not load model 'siglip'"),
        (["--model", "siglip={siglip-multilingual}", "index", "search", "wikiart", "--text", "a"],
         "was built with model 'siglip' ("),
        (["--model", "dinov2=/x", "index", "info"], "Unknown model slot 'dinov2'"),
    ],
    ids=["bomb", "not-an-image", "truncated", "k0", "empty-text", "missing-index", "unreachable-hub",
         "other-checkpoint", "unknown-slot"],
)  # fmt: skip
def test_cli_errors_are_one_line(run_cli, files, tiny_models, argv, message):
    def fill(arg: str) -> str:
        for key, value in {**files, **tiny_models}.items():
            arg = arg.replace("{" + key + "}", value)
        return arg

    argv = [fill(arg) for arg in argv]
    code, err = run_cli(*argv)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err


def test_cli_unknown_model_key_is_refused_in_one_line(run_cli, tmp_path):
    """--model-key takes registry keys and checkpoint references; anything else is one error line."""
    code, err = run_cli("index", "build", "x", "--folder", str(tmp_path), "--model-key", "dinov2")
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Unknown model 'dinov2'" in errors[0], err
    assert "checkpoint reference" in errors[0] and "Traceback" not in err


def test_cli_k_larger_than_the_index_lists_every_item(app, capsys):
    search = ["index", "search", "wikiart", "--text", "a", "-k", "500", "--json"]
    assert cli.main(["--index-dir", str(app.settings.index_dir), *search]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(PAINTINGS)
    search.remove("--json")
    assert cli.main(["--index-dir", str(app.settings.index_dir), *search]) == 0
    assert f"these are all {len(PAINTINGS)} items" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------------
# Evaluation uploads (the Evaluate tab's zips are untrusted)


def zip_of(entries: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def zips(tmp_path_factory) -> dict[str, str]:
    """Uploads for /evaluate, by name: bad ones, and one good one of 12 images."""
    folder = tmp_path_factory.mktemp("zips")
    picture = encoded(square((200, 30, 60)))
    two_classes = {f"{c}/{n}.png": picture for c in ("cat", "dog") for n in range(6)}
    made = {
        "good.zip": zip_of(two_classes),
        "dotdot.zip": zip_of({**two_classes, "../evil.png": picture}),
        "empty.zip": zip_of({"README.txt": b"nothing here"}),
        "one-class.zip": zip_of({"cat/1.png": picture, "cat/2.png": picture}),
        "unreadable-class.zip": zip_of({**two_classes, "bird/broken.jpg": b"not an image"}),
        "bomb.zip": zip_of({"cat/bomb.png": b"\0" * 30_000_000, "dog/1.png": picture}),
        "not-a-zip.zip": picture,
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: str(folder / name) for name in made}


@pytest.mark.parametrize(
    ("name", "task", "message"),
    [
        ("dotdot.zip", "zeroshot", r"entry outside its own folder \('../evil.png'\)"),
        ("empty.zip", "zeroshot", "The zip holds no class folders"),
        ("one-class.zip", "zeroshot", r"The zip has only 1 class \('cat'\)"),
        ("unreadable-class.zip", "zeroshot", r"No image of the class 'bird' could be read \(bird/broken.jpg"),
        ("bomb.zip", "zeroshot", "refused as a zip bomb"),
        ("not-a-zip.zip", "zeroshot", "not a readable zip file"),
        ("good.zip", "retrieval", "The zip has no metadata.jsonl or metadata.csv"),
        ("good.zip", "translation", r"Task must be one of zeroshot, retrieval, not 'translation'"),
    ],
)
def test_bad_evaluation_uploads_are_clear_errors(client, zips, name, task, message, assert_serving):
    with pytest.raises(AppError, match=message) as error:
        client.predict(handle_file(zips[name]), task, ["siglip"], api_name="/evaluate")
    assert "/tmp" not in str(error.value)  # no server paths
    assert_serving()


def test_too_many_images_or_classes_for_a_run_are_refused(app, client, zips, assert_serving):
    with (
        app.settings_as(app.settings.with_(eval_max_images=10)),
        pytest.raises(AppError, match=r"holds 12 images; one run evaluates at most 10.*python app\.py eval"),
    ):
        client.predict(handle_file(zips["good.zip"]), "zeroshot", ["siglip"], api_name="/evaluate")
    with (
        app.settings_as(app.settings.with_(eval_max_classes=1)),
        pytest.raises(AppError, match="has 2 classes; one run takes at most 1"),
    ):
        client.predict(handle_file(zips["good.zip"]), "zeroshot", ["siglip"], api_name="/evaluate")
    result = client.predict(handle_file(zips["good.zip"]), "zeroshot", ["siglip"], api_name="/evaluate")[5]
    assert result["images"] == 12
    assert_serving()


def test_evaluate_with_a_model_that_cannot_load_runs_the_others(app, client, zips, assert_serving):
    offline = app.settings.with_model_overrides(["clip=openai/not-in-the-cache"])
    with app.settings_as(offline):
        status, *_, result, _ = client.predict(
            handle_file(zips["good.zip"]), "zeroshot", ["clip", "siglip"], api_name="/evaluate"
        )
    assert (
        list(result["models"]) == ["siglip"]
        and "Could not load model 'clip'" in result["unavailable"]["clip"]
    )
    assert "CLIP was not evaluated" in status
    assert_serving()


# Combined queries, filters, more like this, side by side, collections


@pytest.mark.parametrize(
    ("api_name", "args", "kwargs", "message"),
    [
        ("/text_search", ("a red disc",), {"filters": ["Minimalism"]}, "is not column=value"),
        ("/text_search", ("a red disc",), {"filters": ["colour=red"]}, "has no metadata column 'colour'"),
        ("/text_search", ("a red disc",), {"index": "nope"}, "The image index 'nope' does not exist"),
        ("/text_search", ("a red disc",), {"min_score": 2}, "greater than maximum value 1"),
        ("/combined_search", (None, "a cat", "a cat"), {}, "cancel each other out"),
        ("/combined_search", (None, "a cat", ", ".join("abcdefghi")), {}, "9 texts to leave out; at most 8"),
        ("/combined_search", (None, "a cat"), {"text_weight": 5}, "greater than maximum value 2"),
        ("/combined_search", ("{not-an-image.jpg}", "a cat"), {}, "could not be read as an image"),
        ("/similar", ("no-such-item.jpg",), {}, "Index 'wikiart' has no item 'no-such-item.jpg'"),
        ("/compare_search", ("a cat", None, "wikiart", "nope"), {}, r"to compare \(got 'nope'\)"),
        ("/delete_index", ("no-such-index",), {}, "There is no index named 'no-such-index'"),
        ("/delete_index", ("wikiart",), {}, "Index 'wikiart' is not yours"),
        ("/add_to_index", (["{on-white.png}"], "wikiart"), {}, "Index 'wikiart' is not yours"),
        ("/create_index", (["{not-an-image.jpg}"], "x"), {}, "Nothing could be indexed"),
        ("/create_index", (["{on-white.png}"], "wikiart"), {}, "The name 'wikiart' is reserved"),
        ("/create_index", (["{on-white.png}"], OTHER_INDEX), {}, f"An index named '{OTHER_INDEX}' already"),
    ],
    ids=["filter-syntax", "filter-column", "missing-index", "min-score", "cancel", "negatives", "weight",
         "bad-image", "no-item", "compare-index", "delete-missing", "delete-not-yours", "add-to-cli-index",
         "create-unreadable", "create-reserved", "create-taken"],
)  # fmt: skip
def test_new_endpoints_refuse_bad_input_clearly(
    client, files, api_name, args, kwargs, message, assert_serving
):
    def fill(value):
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return handle_file(files[value[1:-1]])
        return value

    with pytest.raises(AppError, match=message) as error:
        client.predict(*[fill(arg) for arg in args], api_name=api_name, **kwargs)
    assert "Traceback" not in str(error.value)
    assert_serving()


@pytest.mark.parametrize(
    ("api_name", "args", "message"),
    [
        ("/combined_search", (None, "", "people"), "Give a picture (or press Use my drawing) or a text"),
        ("/similar", ("",), "Select a result first"),
        (
            "/compare_search",
            ("", None, "wikiart", "wikiart"),
            "Type a description or upload a picture first.",
        ),
    ],
    ids=["combine-nothing", "similar-nothing", "compare-nothing"],
)
def test_empty_queries_say_what_to_give(client, api_name, args, message):
    result = client.predict(*args, api_name=api_name)
    assert result[0] == [] and message in result[1]
