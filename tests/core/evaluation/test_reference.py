"""Evaluation results against independent computations, image by image, on the tiny checkpoints.

Zero-shot: for the transformers families, transformers' `zero-shot-image-classification` pipeline
ranks the classes of each image; NLLB-CLIP is open_clip's own forward pass; multilingual CLIP is
`SentenceTransformer.encode`. Top-1, top-5, the confusion matrix, per-class accuracy and the share of
abstentions are then counted from those rankings and must equal the report. Retrieval: recall@k from a
brute-force numpy ranking of transformers' own embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.evaluation import EvalOptions, evaluate_retrieval, evaluate_zeroshot, read_caption_folder
from core.evaluation import read_class_folder as read_classes
from core.registry import get_spec
from core.zeroshot import DEFAULT_TEMPLATE

TRANSFORMERS_KEYS = ["siglip", "siglip2", "siglip2-naflex", "siglip-multilingual", "clip"]
TEMPLATE = "A picture of a {}."


def expected_metrics(
    rankings: list[list[int]], best_scores: list[float], labels, classes: int, sigmoid: bool
):
    """Top-1, top-5, confusion, per-class accuracy and abstain share, counted from per-image rankings."""
    confusion = np.zeros((classes, classes), dtype=int)
    for ranked, label in zip(rankings, labels, strict=True):
        confusion[label, ranked[0]] += 1
    per_class = confusion.diagonal() / confusion.sum(axis=1)
    return {
        "top1": np.mean([ranked[0] == label for ranked, label in zip(rankings, labels, strict=True)]),
        "top5": np.mean([label in ranked[:5] for ranked, label in zip(rankings, labels, strict=True)]),
        "confusion": confusion.tolist(),
        "per_class": per_class.tolist(),
        "mean_per_class_recall": per_class.mean(),
        "abstain": float(np.mean([score < 0.5 for score in best_scores])) if sigmoid else None,
    }


def assert_matches(got: dict, expected: dict, classes: tuple[str, ...]) -> None:
    assert got["top1"] == pytest.approx(expected["top1"], abs=1e-12)
    assert got["top5"] == pytest.approx(expected["top5"], abs=1e-12)
    assert got["confusion"] == expected["confusion"]
    assert list(got["per_class"]) == list(classes)
    np.testing.assert_allclose(list(got["per_class"].values()), expected["per_class"], atol=1e-12)
    assert got["mean_per_class_recall"] == pytest.approx(expected["mean_per_class_recall"], abs=1e-12)
    assert got["abstain"] == (None if expected["abstain"] is None else pytest.approx(expected["abstain"]))


@pytest.fixture(scope="module")
def data(class_folder):
    return read_classes(class_folder)


def pil_images(data) -> list[Image.Image]:
    return [Image.open(ref.path).convert("RGB") for ref in data.images]


@pytest.mark.parametrize("key", TRANSFORMERS_KEYS)
def test_zeroshot_equals_the_pipeline_image_by_image(key, data, tiny_models, settings):
    from transformers import pipeline

    # SigLIP 2 keys lowercase their texts (as in training); the pipeline gets them lowercased.
    fold = str.lower if get_spec(key).lowercase_texts else str
    classifier = pipeline("zero-shot-image-classification", model=tiny_models[key], device="cpu")
    rankings, best = [], []
    classes = [fold(name) for name in data.classes]
    for image in pil_images(data):
        results = classifier(image, candidate_labels=classes, hypothesis_template=fold(TEMPLATE))
        rankings.append([classes.index(row["label"]) for row in results])
        best.append(results[0]["score"])
    sigmoid = key != "clip"
    expected = expected_metrics(rankings, best, data.labels, len(data.classes), sigmoid)

    report = evaluate_zeroshot(data, EvalOptions(models=(key,), templates=(TEMPLATE,)), settings=settings)
    got = report.to_json()["models"][key]
    assert_matches(got, expected, data.classes)
    assert report.images == len(data.images) == 21 and "red apple" in data.classes


def test_nllb_clip_equals_open_clip_forward(data, tiny_models, settings):
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(tiny_models["nllb-clip"])
    model.eval()
    tokenizer = open_clip.get_tokenizer(tiny_models["nllb-clip"])
    tokenizer.tokenizer.src_lang = "eng_Latn"  # what the run guesses from English class names
    texts = [DEFAULT_TEMPLATE.format(name) for name in data.classes]
    rankings = []
    with torch.inference_mode():
        for image in pil_images(data):
            image_features, text_features, scale = model(preprocess(image).unsqueeze(0), tokenizer(texts))[:3]
            probabilities = (scale * image_features @ text_features.T).softmax(dim=-1)[0].numpy()
            rankings.append(list(np.argsort(-probabilities, kind="stable")))
    expected = expected_metrics(rankings, [], data.labels, len(data.classes), sigmoid=False)
    report = evaluate_zeroshot(data, EvalOptions(models=("nllb-clip",)), settings=settings)
    assert_matches(report.to_json()["models"]["nllb-clip"], expected, data.classes)
    assert report.language == "eng_Latn"


def test_multilingual_clip_equals_sentence_transformers(data, tiny_models, settings):
    from sentence_transformers import SentenceTransformer

    image_model = SentenceTransformer(tiny_models["mclip-image"], device="cpu")
    text_model = SentenceTransformer(tiny_models["mclip-text"], device="cpu")
    texts = [DEFAULT_TEMPLATE.format(name) for name in data.classes]
    text_vectors = text_model.encode(texts, normalize_embeddings=True)
    image_vectors = image_model.encode(pil_images(data), normalize_embeddings=True)
    logits = 100.0 * image_vectors @ text_vectors.T
    rankings = [list(np.argsort(-row, kind="stable")) for row in logits]
    expected = expected_metrics(rankings, [], data.labels, len(data.classes), sigmoid=False)
    report = evaluate_zeroshot(data, EvalOptions(models=("mclip",)), settings=settings)
    assert_matches(report.to_json()["models"]["mclip"], expected, data.classes)


def _transformers_features(path: str, images: list[Image.Image], texts: list[str]):
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    with torch.inference_mode():
        pixels = processor(images=images, return_tensors="pt")
        image_features = model.get_image_features(**pixels).pooler_output
        tokens = processor.tokenizer(texts, return_tensors="pt", padding="max_length", max_length=64)
        text_features = model.get_text_features(**tokens).pooler_output
    normalise = lambda t: torch.nn.functional.normalize(t.float(), dim=-1).numpy()  # noqa: E731
    return normalise(image_features), normalise(text_features)


def test_a_prompt_ensemble_averages_normalised_prompt_embeddings(data, tiny_models, settings):
    templates = ("a photo of a {}.", "a drawing of a {}.", "This is a sketch of a {}.")
    images, prompts = _transformers_features(
        tiny_models["siglip"], pil_images(data), [t.format(c) for c in data.classes for t in templates]
    )
    classes = prompts.reshape(len(data.classes), len(templates), -1).mean(axis=1)
    classes /= np.linalg.norm(classes, axis=1, keepdims=True)
    scores = images @ classes.T
    rankings = [list(np.argsort(-row, kind="stable")) for row in scores]
    expected = expected_metrics(rankings, [], data.labels, len(data.classes), sigmoid=False)
    report = evaluate_zeroshot(data, EvalOptions(models=("siglip",), templates=templates), settings=settings)
    got = report.to_json()["models"]["siglip"]
    got["abstain"] = None  # the ranking is what is compared here; abstention is tested above
    assert_matches(got, expected, data.classes)


def brute_force_recall(similarity: np.ndarray, owner: list[int], k: int) -> tuple[float, float]:
    """(image->text, text->image) recall@k by sorting every row and column in full."""
    image_hits = [
        any(owner[j] == i for j in np.argsort(-similarity[i], kind="stable")[:k])
        for i in range(similarity.shape[0])
        if i in owner
    ]
    text_hits = [owner[j] in np.argsort(-similarity[:, j], kind="stable")[:k] for j in range(len(owner))]
    return float(np.mean(image_hits)), float(np.mean(text_hits))


def test_recall_at_k_equals_a_numpy_brute_force(caption_folder, tiny_models, settings):
    data = read_caption_folder(caption_folder)
    images = [Image.open(ref.path).convert("RGB") for ref in data.images]
    image_vectors, text_vectors = _transformers_features(tiny_models["siglip2"], images, list(data.captions))
    similarity = image_vectors @ text_vectors.T
    report = evaluate_retrieval(data, EvalOptions(models=("siglip2",)), settings=settings)
    got = report.to_json()["models"]["siglip2"]
    for k in (1, 5, 10):
        image_to_text, text_to_image = brute_force_recall(similarity, list(data.caption_image), k)
        assert got["image_to_text"][f"R@{k}"] == pytest.approx(image_to_text, abs=1e-12), k
        assert got["text_to_image"][f"R@{k}"] == pytest.approx(text_to_image, abs=1e-12), k
    assert report.images == 8 and report.captions == 16
