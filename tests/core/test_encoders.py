"""Every family against its own library's reference outputs, loaded through the app's public path.

transformers families: scores equal `pipeline("zero-shot-image-classification")` and image embeddings
equal the normalised `get_image_features` output, within 1e-5. NLLB-CLIP against open_clip's own
forward pass, multilingual CLIP against `SentenceTransformer.encode`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.config import Settings
from core.encoders import get_encoder
from core.errors import InvalidInputError
from core.registry import get_spec
from core.zeroshot import DEFAULT_TEMPLATE, classify

TRANSFORMERS_KEYS = ["siglip", "siglip2", "siglip2-naflex", "siglip-multilingual", "clip"]
LABELS = ["a cat", "a dog", "a red car", "eine Katze", "un chien", "猫", "قطة"]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    wide = Image.fromarray(rng.integers(0, 255, (40, 160, 3), dtype=np.uint8))
    tall = Image.fromarray(rng.integers(0, 255, (150, 30, 3), dtype=np.uint8))
    square = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return [wide, tall, square]


def _normalised(tensor: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(tensor.float(), dim=-1).numpy()


@pytest.fixture(scope="module")
def settings(tiny_models) -> Settings:
    return Settings.from_env()


@pytest.mark.parametrize("key", TRANSFORMERS_KEYS)
def test_scores_equal_the_transformers_pipeline(key, tiny_models, settings):
    """SigLIP 2 keys lowercase their texts as in training; the pipeline does so only for NaFlex, so
    it gets the lowercased texts here (what it would see with a `Siglip2Tokenizer`)."""
    from transformers import pipeline

    fold = str.lower if get_spec(key).lowercase_texts else str
    classifier = pipeline("zero-shot-image-classification", model=tiny_models[key], device="cpu")
    for image in _images():
        for template in (DEFAULT_TEMPLATE, "A painting of {}, in oil."):
            labels = [fold(label) for label in LABELS]
            expected = classifier(image, candidate_labels=labels, hypothesis_template=fold(template))
            got = classify(image, LABELS, model=key, template=template, settings=settings)
            assert [fold(r["label"]) for r in got] == [r["label"] for r in expected]
            np.testing.assert_allclose(
                [r["score"] for r in got], [r["score"] for r in expected], atol=1e-5, rtol=0
            )


@pytest.mark.parametrize("key", TRANSFORMERS_KEYS)
def test_image_embeddings_equal_get_image_features(key, tiny_models, settings):
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(tiny_models[key]).eval()
    processor = AutoProcessor.from_pretrained(tiny_models[key])
    images = _images()
    extra = {"max_num_patches": settings.naflex_max_patches} if key == "siglip2-naflex" else {}
    with torch.inference_mode():
        inputs = processor(images=images, return_tensors="pt", **extra)
        expected = _normalised(model.get_image_features(**inputs).pooler_output)
        text_inputs = processor.tokenizer(["a cat"], return_tensors="pt", padding=True)
        if model.config.model_type.startswith("siglip"):
            text_inputs = processor.tokenizer(
                ["a cat"], return_tensors="pt", padding="max_length", max_length=64
            )
        expected_text = _normalised(model.get_text_features(**text_inputs).pooler_output)

    encoder = get_encoder(key, settings)
    got = encoder.embed_images(images, batch_size=2)  # batches of 2 and 1 must not change anything
    assert got.dtype == np.float32 and got.shape == (3, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(encoder.embed_texts(["a cat"]), expected_text, atol=1e-5, rtol=0)


def test_naflex_keeps_the_aspect_ratio_and_honours_max_num_patches(tiny_models):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_models["siglip2-naflex"])
    wide, tall, _ = _images()
    shapes = processor(images=[wide, tall], return_tensors="pt", max_num_patches=64)[
        "spatial_shapes"
    ].tolist()
    (wide_h, wide_w), (tall_h, tall_w) = shapes
    assert wide_w > wide_h and tall_h > tall_w  # patches follow the image, not a square

    few = get_encoder("siglip2-naflex", Settings.from_env().with_(naflex_max_patches=16))
    many = get_encoder("siglip2-naflex", Settings.from_env().with_(naflex_max_patches=256))
    assert few is not many
    assert not np.allclose(few.embed_images([wide]), many.embed_images([wide]), atol=1e-4)


def test_siglip_scores_are_independent_per_label_and_clip_sums_to_one(tiny_models, settings):
    image = _images()[2]
    alone = classify(image, ["a cat"], model="siglip", settings=settings)[0]["score"]
    together = {r["label"]: r["score"] for r in classify(image, LABELS, model="siglip", settings=settings)}
    assert together["a cat"] == pytest.approx(alone, abs=1e-6)
    assert sum(together.values()) != pytest.approx(1.0, abs=1e-3)
    clip = classify(image, LABELS, model="clip", settings=settings)
    assert sum(r["score"] for r in clip) == pytest.approx(1.0, abs=1e-5)


def test_any_image_mode_is_accepted(tiny_models, settings):
    rgb = _images()[2]
    encoder = get_encoder("siglip", settings)
    for mode in ("L", "RGBA", "CMYK", "P", "I;16"):
        assert encoder.embed_images([rgb.convert(mode)]).shape == (1, encoder.dim)


def test_nllb_clip_equals_open_clip_and_uses_the_language_code(tiny_models, settings):
    import open_clip

    spec = tiny_models["nllb-clip"]
    model, _, preprocess = open_clip.create_model_and_transforms(spec)
    model.eval()
    tokenizer = open_clip.get_tokenizer(spec)
    image = _images()[0]
    labels = ["un chat", "un chien", "une voiture"]
    texts = [DEFAULT_TEMPLATE.format(label) for label in labels]
    with torch.inference_mode():
        tokenizer.tokenizer.src_lang = "fra_Latn"
        image_features, text_features, logit_scale = model(preprocess(image).unsqueeze(0), tokenizer(texts))[
            :3
        ]
        expected = (logit_scale * image_features @ text_features.T).softmax(dim=-1)[0].numpy()

    encoder = get_encoder("nllb-clip", settings)
    np.testing.assert_allclose(encoder.embed_images([image]), _normalised(image_features), atol=1e-5)
    got = classify(image, labels, model="nllb-clip", language="fra_Latn", settings=settings)
    got_by_label = {r["label"]: r["score"] for r in got}
    np.testing.assert_allclose([got_by_label[label] for label in labels], expected, atol=1e-5, rtol=0)

    english = encoder.embed_texts(texts, language="eng_Latn")
    french = encoder.embed_texts(texts, language="fra_Latn")
    assert not np.allclose(english, french, atol=1e-4)  # the language token changes the embedding
    assert np.allclose(encoder.embed_texts(texts), english)  # eng_Latn is the default
    with pytest.raises(InvalidInputError, match="not an NLLB language code"):
        encoder.embed_texts(texts, language="french")


def test_multilingual_clip_equals_sentence_transformers(tiny_models, settings):
    from sentence_transformers import SentenceTransformer

    image_model = SentenceTransformer(tiny_models["mclip-image"], device="cpu")
    text_model = SentenceTransformer(tiny_models["mclip-text"], device="cpu")
    image = _images()[1]
    labels = ["Katze", "kedi", "猫"]
    texts = [DEFAULT_TEMPLATE.format(label) for label in labels]
    image_vector = image_model.encode([image], normalize_embeddings=True)[0]
    text_vectors = text_model.encode(texts, normalize_embeddings=True)
    logits = 100.0 * text_vectors @ image_vector
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()

    encoder = get_encoder("mclip", settings)
    np.testing.assert_allclose(encoder.embed_images([image])[0], image_vector, atol=1e-5)
    np.testing.assert_allclose(encoder.embed_texts(texts), text_vectors, atol=1e-5)
    got = {r["label"]: r["score"] for r in classify(image, labels, model="mclip", settings=settings)}
    np.testing.assert_allclose([got[label] for label in labels], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("key", [*TRANSFORMERS_KEYS, "nllb-clip"])
def test_bf16_fast_path_agrees_with_fp32(key, tiny_models):
    fp32 = get_encoder(key, Settings.from_env().with_(precision="fp32"))
    bf16 = get_encoder(key, Settings.from_env().with_(precision="bf16"))
    assert bf16.dtype == torch.bfloat16 and fp32.dtype == torch.float32
    images = _images()
    for fast, reference in [
        (bf16.embed_images(images), fp32.embed_images(images)),
        (bf16.embed_texts(LABELS), fp32.embed_texts(LABELS)),
    ]:
        assert fast.dtype == np.float32
        cosines = (fast * reference).sum(axis=1)
        assert cosines.min() >= 0.999, cosines
    # Scores use the fp32 logit scale and bias, so they stay close too.
    assert bf16.logit_scale == fp32.logit_scale


def test_fp16_on_cpu_is_a_clear_error(tiny_models):
    with pytest.raises(InvalidInputError, match="fp16 only on a GPU"):
        get_encoder("siglip", Settings.from_env().with_(device="cpu", precision="fp16"))


@pytest.mark.parametrize("key", ["siglip2", "siglip2-naflex"])
def test_siglip2_lowercases_its_texts_as_in_training(key, tiny_models, settings):
    from transformers import Siglip2Tokenizer

    encoder = get_encoder(key, settings)
    np.testing.assert_array_equal(encoder.embed_texts(["A Cat"]), encoder.embed_texts(["a cat"]))
    assert not np.allclose(encoder.embed_texts(["a cat"]), encoder.embed_texts(["a dog"]), atol=1e-4)
    # Token for token what transformers' own SigLIP 2 tokenizer gives (Unicode lowercasing included).
    reference = Siglip2Tokenizer.from_pretrained(tiny_models[key])
    for text in ("A Cat ON the Mat", "ΟΔΟΣ", "İstanbul", "Straße"):
        assert encoder.processor.tokenizer(text).input_ids == reference(text).input_ids, text


def test_siglip_v1_still_canonicalises_and_clip_keeps_its_own_rules(tiny_models, settings):
    siglip = get_encoder("siglip", settings)
    np.testing.assert_allclose(siglip.embed_texts(["A Cat!"]), siglip.embed_texts(["a cat"]), atol=1e-6)
    assert not get_spec("siglip").lowercase_texts and not get_spec("clip").lowercase_texts


def test_auto_precision_is_fp32_for_interactive_use_and_bf16_for_bulk_where_native(tiny_models):
    from core.encoders.base import native_low_precision

    auto = Settings.from_env().with_(precision="auto")
    interactive = get_encoder("siglip", auto)
    bulk = get_encoder("siglip", auto, bulk=True)
    assert interactive.dtype == torch.float32
    native = native_low_precision("cpu")
    assert bulk.dtype == {"bf16": torch.bfloat16, "fp32": torch.float32}[native]
    assert (bulk is interactive) == (native == "fp32")
    # Interactive auto and explicit fp32 are one model in memory; an explicit precision applies to both.
    assert get_encoder("siglip", auto.with_(precision="fp32")) is interactive
    assert get_encoder("siglip", auto.with_(precision="fp32"), bulk=True) is interactive


@pytest.mark.parametrize("key", TRANSFORMERS_KEYS)
def test_the_default_settings_equal_the_pipeline_to_1e4(key, tiny_models):
    """What the comparison tabs show by default (precision=auto) equals the fp32 pipeline."""
    from transformers import pipeline

    fold = str.lower if get_spec(key).lowercase_texts else str
    classifier = pipeline("zero-shot-image-classification", model=tiny_models[key], device="cpu")
    image = _images()[0]
    expected = classifier(image, candidate_labels=[fold(label) for label in LABELS], hypothesis_template=fold(
        DEFAULT_TEMPLATE))  # fmt: skip
    got = classify(image, LABELS, model=key, settings=Settings.from_env().with_(precision="auto"))
    by_label = {fold(r["label"]): r["score"] for r in got}
    np.testing.assert_allclose(
        [by_label[r["label"]] for r in expected], [r["score"] for r in expected], atol=1e-4
    )
