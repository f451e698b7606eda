"""The Evaluate tab: its handler called directly, and `/evaluate` through the served app (gradio_client)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from apps.evaluate import DEFAULT_MODELS, evaluate
from apps.evaluate_estimate import estimate
from core.config import Settings, set_settings
from core.evaluation import EvalOptions, evaluate_zeroshot, read_class_folder
from tests.core.evaluation.conftest import write_caption_folder, write_class_folder, write_zip

CLASSES = ("cat", "dog", "car", "bird", "red_apple")


@pytest.fixture(scope="module")
def hundred(tmp_path_factory) -> tuple[Path, Path]:
    """(folder, zip) of 100 JPEGs in 5 class folders, zipped inside a top folder as zip tools do."""
    root = tmp_path_factory.mktemp("hundred")
    folder = write_class_folder(root / "photos", classes=CLASSES, per_class=20, suffix=".jpg")
    return folder, write_zip(root / "photos.zip", folder, top="photos")


@pytest.fixture(scope="module")
def captions_zip(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("captions")
    return write_zip(root / "captions.zip", write_caption_folder(root / "data", count=10))


@pytest.fixture
def tiny_settings(tiny_models):
    set_settings(Settings.from_env())
    yield
    set_settings(None)


class Progress:
    """Stands in for gr.Progress: records the fractions and descriptions the handler reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, desc: str = "") -> None:
        self.calls.append((fraction, desc))


def test_the_handler_reports_every_model_and_the_same_numbers_as_the_core(hundred, tiny_settings):
    folder, upload = hundred
    progress = Progress()
    status, table, plot, per_class, confusion, result, files = evaluate(str(upload), progress=progress)
    expected = evaluate_zeroshot(read_class_folder(folder), EvalOptions(models=DEFAULT_MODELS)).to_json()
    assert result["models"] == expected["models"] and result["images"] == 100
    assert [row[0].lstrip("★ ") for row in table["data"]] == ["SigLIP", "SigLIP 2", "CLIP"]
    best = next(row for row in table["data"] if row[0].startswith("★ "))
    assert best[0] == f"★ {status.split('**Best: ')[1].split('**')[0]}"
    assert f"{result['models'][result['best']]['top1']:.1%}" in status and "None of these" in status
    assert len(confusion) == 3 and all(Path(path).name.startswith("confusion_") for path in confusion)
    for path in (plot, per_class, *confusion):
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert [Path(path).name for path in files][:2] == ["results.json", "results.csv"]
    assert json.loads(Path(files[0]).read_text())["models"] == result["models"]
    fractions = [fraction for fraction, _ in progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any("SigLIP 2 (2/3): embedding images" in desc for _, desc in progress.calls)


@pytest.mark.parametrize(
    ("file", "models", "message"),
    [(None, DEFAULT_MODELS, "Upload a zip"), ("x.zip", [], "Pick at least one model")],
)
def test_missing_inputs_are_clear_errors(file, models, message):
    with pytest.raises(gr.Error, match=message):
        evaluate(file, models=models, progress=Progress())


def test_the_estimate_before_a_run_counts_the_zips_images_against_the_budget_and_the_time_limit(
    hundred, tiny_settings
):
    upload = str(hundred[1])
    assert estimate(None, DEFAULT_MODELS) == "" and estimate(upload, []) == ""
    line = estimate(upload, ["siglip", "clip"])
    assert line.startswith("**Estimate:** 100 images x 2 model(s): about ") and "over" not in line
    set_settings(Settings.from_env().with_(eval_max_image_models=150))
    assert "**Over the budget:** 100 images x 2 model(s) is 200" in estimate(upload, ["siglip", "clip"])
    assert "over" not in estimate(upload, ["siglip"])
    set_settings(Settings.from_env().with_(eval_time_limit_minutes=1e-4))
    assert "over the time limit of 0.0001 min" in estimate(upload, ["siglip"])
    assert "not a readable zip" in estimate(str(hundred[0] / "cat" / "0.jpg"), ["siglip"])


@pytest.fixture(scope="module")
def client(live_app) -> Client:
    return Client(live_app.url, verbose=False)


def test_api_evaluate_answers_within_a_minute_for_100_images(client, hundred):
    started = time.monotonic()
    status, table, plot, per_class, confusion, result, files = client.predict(
        handle_file(str(hundred[1])), "zeroshot", list(DEFAULT_MODELS), api_name="/evaluate"
    )
    assert time.monotonic() - started < 60
    assert (
        result["task"] == "zeroshot"
        and result["images"] == 100
        and list(result["models"]) == list(DEFAULT_MODELS)
    )
    assert result["classes"] == ["bird", "car", "cat", "dog", "red apple"]
    assert len(table["data"]) == 3 and table["headers"][:3] == ["model", "top-1", "top-5"]
    assert table["headers"][-3:] == ["img/s", "memory (MB)", "seconds"] and "measured on" in status
    assert all(row[-3] > 0 and row[-2] > 0 for row in table["data"])
    assert Path(plot).is_file() and Path(per_class).is_file() and len(confusion) == 3
    assert {Path(path).name for path in files} >= {
        "results.json",
        "results.csv",
        "accuracy.png",
        "tradeoff.png",
    }


def test_api_evaluate_retrieval(client, captions_zip):
    status, table, plot, per_class, confusion, result, _ = client.predict(
        handle_file(str(captions_zip)), "retrieval", ["siglip", "mclip"], api_name="/evaluate"
    )
    assert result["task"] == "retrieval" and result["images"] == 10 and result["captions"] == 20
    assert list(result["models"]["mclip"]) == ["image_to_text", "text_to_image"]
    assert "mean recall@k" in status and table["headers"][1] == "image→text R@1"
    assert Path(plot).name == "recall_at_k.png" and per_class is None and confusion == []


def test_api_compares_presets_and_any_checkpoint_and_swaps_a_tab_column(
    client, captions_zip, reference_models
):
    """Other checkpoints join the chosen models; a comparison column takes a reference, through the API."""
    folder = reference_models["siglip2-folder"]
    _status, table, *_, result, _ = client.predict(
        handle_file(str(captions_zip)),
        "retrieval",
        ["siglip"],
        other_models=f" {folder} ",
        api_name="/evaluate",
    )
    assert list(result["models"]) == ["siglip", folder] and len(table["data"]) == 2
    with pytest.raises(Exception, match=r"has no config\.json"):
        client.predict(
            handle_file(str(captions_zip)), "retrieval", ["siglip"], other_models=str(captions_zip.parent),
            api_name="/evaluate",
        )  # fmt: skip

    photo = handle_file(str(Path(__file__).resolve().parents[2] / "examples" / "cat.jpg"))
    values = client.predict(photo, "cat, dog", siglip_model=folder, api_name="/compare_clip_siglip")
    assert (
        values[4].startswith("**siglip2**") and values[3] == values[3]
    )  # the swapped column names its model
    with pytest.raises(Exception, match="Unknown model 'nope'"):
        client.predict(photo, "cat, dog", clip_model="nope", api_name="/compare_clip_siglip")
