"""What an evaluation hands over: the JSON shape of issue 10, the CSV, the plots, the prompts used."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.errors import InvalidInputError, UnknownModelError
from core.evaluation import (
    EvalOptions,
    evaluate_retrieval,
    evaluate_zeroshot,
    read_caption_folder,
    read_class_folder,
    resolve_templates,
    write_plots,
)
from core.evaluation.embedding import embed_images, load_encoder
from core.evaluation.metrics import rank_of, zeroshot_metrics
from core.evaluation.prompts import DATA, PROVENANCE, record_hash

MODELS = ("siglip", "clip", "mclip")


@pytest.fixture(scope="module")
def zeroshot(class_folder, tiny_models):
    from core.config import Settings

    return evaluate_zeroshot(
        read_class_folder(class_folder), EvalOptions(models=MODELS), settings=Settings.from_env()
    )


@pytest.fixture(scope="module")
def retrieval(caption_folder, tiny_models):
    from core.config import Settings

    data = read_caption_folder(caption_folder)
    return evaluate_retrieval(data, EvalOptions(models=MODELS), settings=Settings.from_env())


def fraction(value) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


def test_the_zeroshot_json_has_the_documented_shape(zeroshot, tmp_path):
    written = json.loads(zeroshot.write_json(tmp_path / "r.json").read_text())
    assert list(written)[:4] == ["task", "images", "classes", "models"]
    assert written["task"] == "zeroshot" and written["images"] == 21 and len(written["classes"]) == 7
    assert list(written["models"]) == list(MODELS)
    for key, result in written["models"].items():
        assert list(result) == ["top1", "top5", "mean_per_class_recall", "per_class", "confusion", "abstain"]
        assert all(fraction(result[name]) for name in ("top1", "top5", "mean_per_class_recall"))
        assert list(result["per_class"]) == written["classes"] and all(
            map(fraction, result["per_class"].values())
        )
        confusion = np.array(result["confusion"])
        assert confusion.shape == (7, 7) and confusion.sum() == 21 and confusion.dtype.kind == "i"
        assert np.diag(confusion).sum() / 21 == pytest.approx(result["top1"])
        assert (result["abstain"] is None) == (key != "siglip") and (
            key != "siglip" or fraction(result["abstain"])
        )
    assert written["best"] in MODELS and written["templates"] == ["This is a photo of {}."]


def test_the_retrieval_json_has_the_documented_shape(retrieval, tmp_path):
    written = json.loads(retrieval.write_json(tmp_path / "r.json").read_text())
    assert list(written)[:4] == ["task", "images", "captions", "models"]
    assert (written["task"], written["images"], written["captions"]) == ("retrieval", 8, 16)
    for result in written["models"].values():
        assert list(result) == ["image_to_text", "text_to_image"]
        for direction in result.values():
            assert list(direction) == ["R@1", "R@5", "R@10"] and all(map(fraction, direction.values()))
            assert direction["R@1"] <= direction["R@5"] <= direction["R@10"]


def test_the_csv_has_one_row_per_model_with_per_class_columns(zeroshot):
    rows = list(csv.DictReader(io.StringIO(zeroshot.to_csv())))
    assert [row["model"] for row in rows] == list(MODELS)
    assert {row["best"] for row in rows} == {"True", "False"} or len(rows) == 1
    assert (
        "per_class:red apple" in rows[0] and float(rows[0]["top1"]) == zeroshot.results["siglip"].metrics.top1
    )


def test_plots_are_written_as_valid_pngs(zeroshot, retrieval, tmp_path):
    plots = write_plots(zeroshot, tmp_path / "zeroshot")
    assert list(plots) == ["accuracy", "per_class", "tradeoff", *(f"confusion:{key}" for key in MODELS)]
    retrieval_plots = write_plots(retrieval, tmp_path / "retrieval")
    assert list(retrieval_plots) == ["recall", "tradeoff"]
    plots |= {f"retrieval:{name}": path for name, path in retrieval_plots.items()}
    for path in plots.values():
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200
            image.verify()


def test_a_model_that_cannot_load_is_reported_and_the_others_run(class_folder, settings):
    broken = settings.with_model_overrides(["clip=/no/such/checkpoint"])
    report = evaluate_zeroshot(
        read_class_folder(class_folder), EvalOptions(models=("clip", "siglip")), settings=broken
    )
    assert list(report.results) == ["siglip"] and "Could not load model 'clip'" in report.unavailable["clip"]
    assert report.to_json()["unavailable"] == report.unavailable
    with pytest.raises(UnknownModelError, match="Unknown model 'dinov2'"):
        evaluate_zeroshot(read_class_folder(class_folder), EvalOptions(models=("dinov2",)), settings=settings)


def test_templates_come_from_clip_benchmark_files_unchanged():
    provenance = json.loads(PROVENANCE.read_text())
    assert provenance["package"] == "clip-benchmark" and "1.6.2" in provenance["wheel"]
    for name, expected in provenance["files"].items():
        assert record_hash((DATA / name).read_bytes()) == expected, name  # the wheel's RECORD hash
    ensemble = resolve_templates(templates="ensemble")
    assert len(ensemble) == 80 and all(t.count("{}") == 1 for t in ensemble)
    assert ensemble[0] == "a bad photo of a {}." and len(resolve_templates(templates="cifar10")) == 18
    assert resolve_templates() == ("This is a photo of {}.",)
    with pytest.raises(InvalidInputError, match=r"is not a prompt ensemble\. Use one of: ensemble, cifar10"):
        resolve_templates(templates="imagenet-21k")
    with pytest.raises(InvalidInputError, match=r"has no \{\} where the label goes"):
        resolve_templates("a photo")


def test_images_take_the_index_builders_fast_path(tmp_path, settings):
    """Evaluation embeds a JPEG folder exactly as an index build of it does (draft decode, batches)."""
    from core.evaluation.data import ImageRef, image_files
    from core.index import BuildOptions, FolderSource, build_index, load_index
    from tests.core.index.conftest import make_image

    for n in range(6):
        make_image(n, size=(1200, 800)).save(tmp_path / f"{n}.jpg", quality=90)  # decoded at 1/2
    refs = [ImageRef(path.name, path=path) for path in image_files(tmp_path)]
    encoder = load_encoder("siglip", settings)
    vectors, skipped, _ = embed_images(encoder, refs, batch_size=4)
    build_index("fast", FolderSource(tmp_path), BuildOptions(model_key="siglip"), settings=settings.with_(
        index_dir=tmp_path / "idx"))  # fmt: skip
    index = load_index("fast", settings=settings.with_(index_dir=tmp_path / "idx"))
    by_path = dict(zip((row["path"] for row in index.rows), index.vectors(), strict=True))
    assert not skipped
    np.testing.assert_allclose(vectors, np.stack([by_path[ref.name] for ref in refs]), atol=1e-6)
    plain = encoder.embed_images([Image.open(ref.path) for ref in refs])
    assert not np.allclose(vectors, plain, atol=1e-6) and (vectors * plain).sum(axis=1).min() > 0.999


def test_metric_ranks_equal_a_full_stable_sort():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, (50, 9)).astype(np.float32)  # many ties
    labels = rng.integers(0, 9, 50)
    order = np.argsort(-scores, axis=1, kind="stable")
    expected = np.array([list(row).index(label) for row, label in zip(order, labels, strict=True)])
    np.testing.assert_array_equal(rank_of(scores, labels, chunk=7), expected)
    metrics = zeroshot_metrics(scores / 4, labels, sigmoid=True)
    assert metrics.top1 == np.mean(order[:, 0] == labels) and metrics.top5 == np.mean(expected < 5)
    assert metrics.abstain == np.mean(scores.max(axis=1) / 4 < 0.5)


def test_evaluations_and_index_builds_run_as_bulk_uses(tmp_path, class_folder, tiny_models):
    """With precision=auto they take the bulk model (bf16 where native); the tabs keep fp32."""
    from core.encoders import clear_cache, is_loaded
    from core.encoders.base import native_low_precision
    from core.index import BuildOptions, FolderSource, build_index

    auto = Settings.from_env().with_(precision="auto", index_dir=tmp_path / "idx")
    clear_cache("clip", auto)
    report = evaluate_zeroshot(read_class_folder(class_folder), EvalOptions(models=("clip",)), settings=auto)
    assert is_loaded("clip", auto, bulk=True)
    assert is_loaded("clip", auto) == (native_low_precision("cpu") == "fp32")
    assert (
        report.to_json()["details"]["clip"]["dtype"]
        == {"bf16": "bfloat16", "fp32": "float32"}[native_low_precision("cpu")]
    )
    clear_cache("clip", auto)
    build_index("bulk", FolderSource(class_folder), BuildOptions(model_key="clip"), settings=auto)
    assert is_loaded("clip", auto, bulk=True)


def test_each_model_reports_its_speed_and_memory_and_the_frontier_is_the_undominated_set(zeroshot):
    """Memory is the weights' bytes as torch counts them; the frontier equals a brute-force search for
    models that no other matches or beats on both speed and top-1 (strictly on one)."""
    from core.encoders import get_encoder
    from core.evaluation.report import pareto_frontier

    details = zeroshot.to_json()["details"]
    for key in MODELS:
        encoder = get_encoder(key, Settings.from_env(), bulk=True)
        modules = [m for m in vars(encoder).values() if isinstance(m, __import__("torch").nn.Module)]
        weights = sum(t.numel() * t.element_size() for m in modules for t in (*m.parameters(), *m.buffers()))
        assert details[key]["memory_mb"] == round(weights / 2**20, 1) > 0
        assert details[key]["images_per_second"] > 0
    assert zeroshot.machine and zeroshot.to_json()["machine"] == zeroshot.machine
    rows = list(csv.DictReader(io.StringIO(zeroshot.to_csv())))
    assert all(float(row["images_per_second"]) > 0 and float(row["memory_mb"]) > 0 for row in rows)

    rng = np.random.default_rng(5)
    for _ in range(200):
        points = {f"m{n}": (float(rng.integers(1, 6)), float(rng.integers(0, 4))) for n in range(6)}

        def dominated(key, points=points):
            speed, score = points[key]
            return any(
                (s >= speed and a >= score) and (s > speed or a > score)
                for other, (s, a) in points.items()
                if other != key
            )

        front = pareto_frontier(points)
        assert set(front) == {key for key in points if not dominated(key)}
        assert [points[key][0] for key in front] == sorted((points[key][0] for key in front), reverse=True)
    assert pareto_frontier({"a": (None, 1.0), "b": (2.0, 0.5)}) == ("b",)
