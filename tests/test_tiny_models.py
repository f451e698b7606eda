"""The tiny checkpoints load through the public APIs the app uses and give embeddings of the right size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.testing.tiny_models import EMBED_DIMS, NLLB_LANGUAGES, SLOTS, build_tiny_models, env_var_name

HF_SLOTS = ("siglip", "siglip-multilingual", "siglip2", "siglip2-naflex", "clip")
SIGLIP_FAMILY = ("siglip", "siglip-multilingual", "siglip2", "siglip2-naflex")
TEXTS = ["a photo of a cat", "ein Foto einer Katze", "猫の写真", "صورة قطة", "🐱 кошка"]


def _images() -> list[Image.Image]:
    """Two different, non-square RGB images."""
    ramp = np.linspace(0, 255, 60 * 40 * 3).reshape(40, 60, 3).astype(np.uint8)
    return [Image.fromarray(ramp), Image.new("RGB", (50, 70), (200, 30, 30))]


def _text_kwargs(slot: str) -> dict[str, object]:
    # SigLIP models were trained on texts padded to 64 tokens; CLIP pads to the longest.
    return {"padding": "max_length", "max_length": 64} if slot in SIGLIP_FAMILY else {"padding": True}


def test_every_slot_is_built_and_exported(tiny_models: dict[str, str]) -> None:
    assert tuple(tiny_models) == SLOTS
    for slot, value in tiny_models.items():
        assert os.environ[env_var_name(slot)] == value
        assert Path(value.removeprefix("local-dir:")).is_dir()
    assert tiny_models["nllb-clip"].startswith("local-dir:/")
    assert env_var_name("mclip-image") == "SIGLIP_PROJECTS_MODEL_MCLIP_IMAGE"


def test_rebuild_is_deterministic(tiny_models: dict[str, str], tmp_path: Path) -> None:
    cached_root = Path(tiny_models["siglip"]).parent
    fresh = build_tiny_models(tmp_path)
    fresh_root = Path(fresh["siglip"]).parent

    def digests(root: Path) -> dict[str, str]:
        # Only the slot folders: anything else someone left in the shared cache is not the builder's.
        return {
            str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for slot in SLOTS
            for path in sorted((root / slot).rglob("*"))
            # open_clip_config.json holds absolute paths, which differ by design.
            if path.is_file() and path.name != "open_clip_config.json"
        }

    assert digests(fresh_root) == digests(cached_root), "stale test cache? bump BUILDER_VERSION"
    assert build_tiny_models(tmp_path) == fresh  # Second call reuses the complete folders.


@pytest.mark.parametrize("slot", HF_SLOTS)
def test_transformers_slot_embeds_text_and_images(tiny_models: dict[str, str], slot: str) -> None:
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(tiny_models[slot]).eval()
    processor = AutoProcessor.from_pretrained(tiny_models[slot])
    expected_model = {"siglip2-naflex": "Siglip2Model", "clip": "CLIPModel"}.get(slot, "SiglipModel")
    assert type(model).__name__ == expected_model

    text_inputs = processor(text=TEXTS, return_tensors="pt", **_text_kwargs(slot))
    # Siglip2Processor would otherwise apply its own default of 256 patches.
    image_kwargs = {"max_num_patches": 64} if slot == "siglip2-naflex" else {}
    image_inputs = processor(images=_images(), return_tensors="pt", **image_kwargs)
    with torch.no_grad():
        text = model.get_text_features(**text_inputs).pooler_output
        image = model.get_image_features(**image_inputs).pooler_output

    assert text.shape == (len(TEXTS), EMBED_DIMS[slot])
    assert image.shape == (2, EMBED_DIMS[slot])
    assert torch.isfinite(text).all() and torch.isfinite(image).all()
    assert not torch.allclose(text[0], text[1])
    assert not torch.allclose(image[0], image[1])


def test_siglip2_uses_a_gemma_tokenizer_like_the_hub(tiny_models: dict[str, str]) -> None:
    from transformers import AutoConfig, AutoTokenizer

    for slot, model_type in (("siglip2", "siglip"), ("siglip2-naflex", "siglip2")):
        assert AutoConfig.from_pretrained(tiny_models[slot]).model_type == model_type
        tokenizer = AutoTokenizer.from_pretrained(tiny_models[slot])
        ids = tokenizer("a photo of a cat", padding="max_length", max_length=64)["input_ids"]
        # EOS appended, no BOS, right padding with <pad>=0: SigLIP pools the last position.
        assert ids[0] != tokenizer.bos_token_id
        assert tokenizer.eos_token_id in ids
        assert ids[-1] == tokenizer.pad_token_id == 0
    # transformers maps model_type "siglip2" to its lower-casing Siglip2Tokenizer.
    assert type(AutoTokenizer.from_pretrained(tiny_models["siglip2"])).__name__ == "GemmaTokenizer"
    assert type(AutoTokenizer.from_pretrained(tiny_models["siglip2-naflex"])).__name__ == "Siglip2Tokenizer"


@pytest.mark.parametrize("max_num_patches", [16, 64, 256])
def test_naflex_takes_max_num_patches(tiny_models: dict[str, str], max_num_patches: int) -> None:
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(tiny_models["siglip2-naflex"]).eval()
    processor = AutoProcessor.from_pretrained(tiny_models["siglip2-naflex"])
    inputs = processor(images=_images()[:1], max_num_patches=max_num_patches, return_tensors="pt")
    assert inputs["pixel_values"].shape == (1, max_num_patches, 16 * 16 * 3)
    with torch.no_grad():
        assert model.get_image_features(**inputs).pooler_output.shape == (1, EMBED_DIMS["siglip2-naflex"])


@pytest.mark.parametrize("slot", HF_SLOTS)
def test_zero_shot_pipeline(tiny_models: dict[str, str], slot: str) -> None:
    from transformers import pipeline

    classifier = pipeline("zero-shot-image-classification", model=tiny_models[slot])
    result = classifier(_images()[0], candidate_labels=["cat", "dog", "Katze"])
    assert sorted(item["label"] for item in result) == ["Katze", "cat", "dog"]
    assert all(0.0 <= item["score"] <= 1.0 for item in result)


def test_nllb_clip_loads_with_open_clip(tiny_models: dict[str, str]) -> None:
    import open_clip

    name = tiny_models["nllb-clip"]
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)
    images = torch.stack([preprocess(image) for image in _images()])
    with torch.no_grad():
        image = model.encode_image(images)
        text = model.encode_text(tokenizer(TEXTS))
    assert image.shape == (2, EMBED_DIMS["nllb-clip"])
    assert text.shape == (len(TEXTS), EMBED_DIMS["nllb-clip"])


def test_nllb_tokenizer_takes_the_source_language(tiny_models: dict[str, str]) -> None:
    import open_clip

    name = tiny_models["nllb-clip"]
    tokenizer = open_clip.get_tokenizer(name)
    hf_tokenizer = tokenizer.tokenizer
    ids: dict[str, torch.Tensor] = {}
    for code in NLLB_LANGUAGES.values():
        # The `src_lang` setter is what sticks: transformers 5 re-applies `src_lang` on every call,
        # which undoes open_clip's `set_language` (it calls `set_src_lang_special_tokens`).
        hf_tokenizer.src_lang = code
        ids[code] = tokenizer(["a photo of a cat"])[0]
        assert ids[code][0] == hf_tokenizer.convert_tokens_to_ids(code)
    assert not torch.equal(ids["eng_Latn"], ids["fra_Latn"])
    assert torch.equal(ids["eng_Latn"][1:], ids["fra_Latn"][1:])  # Only the language token differs.

    # The language can also be fixed when the tokenizer is created.
    french = open_clip.get_tokenizer(name, src_lang="fra_Latn")
    assert torch.equal(french(["a photo of a cat"])[0], ids["fra_Latn"])


def test_mclip_image_and_text_share_one_space(tiny_models: dict[str, str]) -> None:
    from sentence_transformers import SentenceTransformer

    image_model = SentenceTransformer(tiny_models["mclip-image"], device="cpu")
    text_model = SentenceTransformer(tiny_models["mclip-text"], device="cpu")
    image = image_model.encode(_images())
    text = text_model.encode(TEXTS)
    assert image.shape == (2, EMBED_DIMS["mclip-image"])
    assert text.shape == (len(TEXTS), EMBED_DIMS["mclip-text"])
    assert EMBED_DIMS["mclip-image"] == EMBED_DIMS["mclip-text"]
    # The image model's CLIP text tower lands in the same space too (English queries in clip-ViT-B-32).
    assert image_model.encode(["a cat"]).shape == (1, EMBED_DIMS["mclip-image"])
