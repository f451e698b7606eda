"""Checkpoints named by reference (a folder, a Hub id, `open_clip:...`): each family against its own
library's reference, refusals in one line, and indexes built with a reference.

transformers families: scores equal `pipeline("zero-shot-image-classification")` within 1e-5.
open_clip models: scores equal open_clip's own forward (features, logit scale and bias).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from core.checkpoints import split_revision
from core.config import Settings
from core.encoders import get_encoder
from core.errors import IndexMismatchError, ModelLoadError, UnknownModelError
from core.index import BuildOptions, FolderSource, build_index, load_index, search
from core.index.searching.resolve import open_index, usable_indexes
from core.registry import get_spec
from core.zeroshot import DEFAULT_TEMPLATE, classify
from tests.core.index.conftest import write_images

LABELS = ["a cat", "a dog", "a red car", "eine Katze", "Un Chien"]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(3)
    return [
        Image.fromarray(rng.integers(0, 255, (40, 90, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)),
    ]


@pytest.fixture(scope="module")
def settings(tiny_models) -> Settings:
    return Settings.from_env()


@pytest.mark.parametrize("name", ["metaclip2", "siglip2-folder"])
def test_transformers_references_score_like_the_pipeline(name, reference_models, settings):
    """MetaCLIP 2 (softmax, padded to the longest text) and a SigLIP 2 folder (sigmoid with its bias,
    texts lowercased as in training, so the pipeline gets them lowercased)."""
    from transformers import pipeline

    reference = reference_models[name]
    spec = get_spec(reference)
    assert spec.scoring == ("sigmoid" if name == "siglip2-folder" else "softmax")
    fold = str.lower if spec.lowercase_texts else str
    assert spec.lowercase_texts == (name == "siglip2-folder")
    classifier = pipeline("zero-shot-image-classification", model=reference, device="cpu")
    for image in _images():
        labels = [fold(label) for label in LABELS]
        expected = classifier(image, candidate_labels=labels, hypothesis_template=fold(DEFAULT_TEMPLATE))
        got = classify(image, LABELS, model=reference, settings=settings)
        assert [fold(r["label"]) for r in got] == [r["label"] for r in expected]
        np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in expected], atol=1e-5)


@pytest.mark.parametrize("name", ["open-clip-pe-core", "open-clip-siglip2"])
def test_open_clip_references_score_like_open_clips_forward(name, reference_models, settings):
    import open_clip

    reference = reference_models[name]
    value = reference.removeprefix("open_clip:")
    model, _, preprocess = open_clip.create_model_and_transforms(value)
    model.eval()
    tokenizer = open_clip.get_tokenizer(value)
    image = _images()[0]
    texts = [DEFAULT_TEMPLATE.format(label) for label in LABELS]
    with torch.inference_mode():
        image_features, text_features, logit_scale, *bias = model(
            preprocess(image).unsqueeze(0), tokenizer(texts)
        )
        logits = logit_scale * image_features @ text_features.T
        # SigLIP-type models return their logit bias too, and score with a sigmoid.
        expected = (torch.sigmoid(logits + bias[0]) if bias else logits.softmax(dim=-1))[0].numpy()
    spec = get_spec(reference)
    assert spec.scoring == ("sigmoid" if name == "open-clip-siglip2" else "softmax")
    got = {r["label"]: r["score"] for r in classify(image, LABELS, model=reference, settings=settings)}
    np.testing.assert_allclose([got[label] for label in LABELS], expected, atol=1e-5, rtol=0)
    encoder = get_encoder(reference, settings)
    np.testing.assert_allclose(encoder.embed_texts(texts), text_features.numpy(), atol=1e-5)


def test_a_reference_resolves_to_one_spec_keyed_by_the_exact_reference(
    reference_models, tmp_path, monkeypatch
):
    folder = reference_models["siglip2-folder"]
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "models"
    link.symlink_to(folder.rsplit("/", 1)[0])
    relative = get_spec("./models/siglip2")
    assert relative.key == str(link.resolve() / "siglip2") and relative.towers == (("", relative.key),)
    assert get_spec(relative.key) == relative and relative.reference and relative.family == "SigLIP 2"
    naflex = get_spec(folder.replace("siglip2", "siglip2-naflex"))
    assert naflex.native_resolution and naflex.family == "SigLIP 2 NaFlex"
    assert split_revision("google/siglip2-base-patch16-256@abc123") == (
        "google/siglip2-base-patch16-256",
        "abc123",
    )
    assert split_revision(folder) == (folder, None)


def _refusal(reference: str) -> str:
    with pytest.raises(UnknownModelError) as error:
        get_spec(reference)
    message = str(error.value)
    assert (
        "\n" not in message and "siglip2" in message and "metaclip_2" in message and "open_clip:" in message
    )
    return message


def test_unsupported_and_remote_code_checkpoints_are_refused_in_one_line(tiny_models, tmp_path):
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert "model_type is 'bert'" in _refusal(str(bert))

    remote = tmp_path / "remote"
    shutil.copytree(tiny_models["clip"], remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (remote / "config.json").write_text(json.dumps(config))
    assert "trust_remote_code" in _refusal(str(remote))

    assert "has no config.json" in _refusal(str(tmp_path))
    assert "open_clip has no model" in _refusal("open_clip:no-such-model")
    assert "@TAG" in _refusal("open_clip:ViT-B-32")  # several pretrained tags: the weights must be named
    with pytest.raises(UnknownModelError) as error:  # neither a key nor shaped like a reference
        get_spec("not a model")
    assert "Known models: siglip" in str(error.value) and "open_clip:NAME@TAG" in str(error.value)


def test_an_index_built_with_a_reference_searches_and_updates_like_one_built_with_a_key(
    reference_models, tiny_models, tmp_path
):
    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=4)
    reference = reference_models["open-clip-siglip2"]
    images = tmp_path / "images"
    write_images(images, range(6))
    options = BuildOptions(model_key=reference)
    report = build_index("refs", FolderSource(images), options, settings=settings)
    index = load_index("refs", reference, settings)
    assert (report.count, index.manifest.model_key, index.manifest.model_id) == (
        6, reference, reference.removeprefix("open_clip:"),
    )  # fmt: skip
    encoder = get_encoder(reference, settings, bulk=True)
    hits = search(index, "a photo of a cat", k=3, settings=settings)
    expected = index.vectors() @ encoder.embed_texts(["a photo of a cat"])[0]
    assert [hit.id for hit in hits] == list(np.argsort(-expected, kind="stable")[:3])
    target = open_index(None, "refs", settings)  # the index's own model, resolved from its manifest
    assert target.spec.key == reference
    assert [entry.name for entry in usable_indexes(reference, settings)] == ["refs"]

    write_images(images, [40, 41])
    report = build_index("refs", FolderSource(images), options, settings=settings)
    assert (report.added, report.kept, report.count) == (2, 6, 8)
    with pytest.raises(IndexMismatchError, match="open-clip-siglip2"):
        load_index("refs", reference_models["open-clip-pe-core"], settings)
    with pytest.raises(IndexMismatchError):
        build_index("refs", FolderSource(images), BuildOptions(model_key="siglip"), settings=settings)


@pytest.fixture
def hub_cache(tiny_models, tmp_path, monkeypatch) -> str:
    """A Hugging Face cache holding the tiny SigLIP 2 as the Hub repo `acme/tiny-siglip2` at one commit,
    read offline exactly as a downloaded checkpoint is."""
    import huggingface_hub.constants

    commit = "c0ffee" + "0" * 34
    repo = tmp_path / "hub" / "models--acme--tiny-siglip2"
    shutil.copytree(tiny_models["siglip2"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return commit


def test_a_hub_id_is_pinned_to_the_commit_it_was_read_from(hub_cache, tmp_path):
    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=4)
    spec = get_spec("acme/tiny-siglip2")
    assert spec.key == "acme/tiny-siglip2" and spec.towers == (("", f"acme/tiny-siglip2@{hub_cache}"),)
    assert get_spec(f"acme/tiny-siglip2@{hub_cache}") == spec  # the same model, named by its commit
    images = tmp_path / "images"
    write_images(images, range(4))
    build_index("hub", FolderSource(images), BuildOptions(model_key="acme/tiny-siglip2"), settings=settings)
    manifest = load_index("hub", f"acme/tiny-siglip2@{hub_cache}", settings).manifest
    assert (manifest.model_key, manifest.model_id) == ("acme/tiny-siglip2", f"acme/tiny-siglip2@{hub_cache}")
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache"):
        get_spec("acme/tiny-siglip2@" + "f" * 40)
