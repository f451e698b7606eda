"""SigLIP, SigLIP 2 (fixed resolution and NaFlex), SigLIP multilingual, CLIP and MetaCLIP 2, via
transformers.

Text handling follows transformers' zero-shot-image-classification pipeline: SigLIP-type models (the
registry's sigmoid-scored ones) pad texts to `max_length` 64; CLIP and MetaCLIP 2 pad to the longest
text. One
departure: every SigLIP 2 key lowercases its texts, as in training (`ModelSpec.lowercase_texts`);
transformers does so only for NaFlex checkpoints, so for fixed-resolution SigLIP 2 the pipeline's
scores differ from ours on texts with capitals (and equal them on lowercase texts).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.checkpoints import split_revision
from core.config import Settings
from core.encoders.base import Encoder, FastPath, Pixels, to_numpy
from core.registry import ModelSpec

SIGLIP_TEXT_LENGTH = 64


class TransformersEncoder(Encoder):
    def __init__(self, spec: ModelSpec, sources: dict[str, str], settings: Settings) -> None:
        super().__init__(spec, sources, settings)
        from transformers import AutoModel, AutoProcessor

        source, revision = split_revision(sources[""])
        # trust_remote_code stays off: every family here is built into transformers.
        # Loaded as stored, then cast: transformers 5 keeps fp32 safetensors weights as views of the
        # memory-mapped file, so the cast allocates only the bf16 copy. Loading with `dtype=bf16`
        # instead measured the same resident and peak memory (benchmarks.memory), and would read the
        # score scale in bf16.
        model = AutoModel.from_pretrained(source, revision=revision, trust_remote_code=False)
        # Read the score scale and bias in fp32 before any cast: bf16 would shift exp(scale) by ~1%.
        self.logit_scale = float(model.logit_scale.detach().exp())
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = float(bias.detach()) if bias is not None else 0.0
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.processor = AutoProcessor.from_pretrained(source, revision=revision, trust_remote_code=False)
        if spec.lowercase_texts:
            lowercase_first(self.processor.tokenizer)
        # The pipeline pads every SigLIP-type text to 64 tokens; those are the sigmoid-scored models.
        self.siglip_text = spec.scoring == "sigmoid"
        self.naflex = self.model.config.model_type == "siglip2"
        self._fast_path = self._make_fast_path()

    @property
    def dim(self) -> int:
        config = self.model.config
        return int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)

    @property
    def fast_path(self) -> FastPath:
        return self._fast_path

    def _make_fast_path(self) -> FastPath:
        from core.encoders.pixels import from_image_processor

        kwargs = {"max_num_patches": self.settings.naflex_max_patches} if self.naflex else {}
        image_processor = self.processor.image_processor
        return FastPath(
            image_size=None if self.naflex else _image_size(image_processor),
            preprocess=HFImagePreprocessor(image_processor, kwargs),
            tensor_preprocess=None if self.naflex else from_image_processor(image_processor),
            embed_batch=self._embed_pixel_batch,
        )

    def _embed_pixel_batch(self, pixels: Pixels) -> np.ndarray:
        inputs = {key: value.to(self.device) for key, value in pixels.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        features = self.model.get_image_features(**inputs).pooler_output
        return to_numpy(features)

    def _embed_text_batch(self, texts: list[str], language: str | None) -> np.ndarray:
        inputs = self.processor.tokenizer(texts, return_tensors="pt", **self._text_kwargs()).to(self.device)
        features = self.model.get_text_features(**inputs).pooler_output
        return to_numpy(features)

    def _text_kwargs(self) -> dict[str, object]:
        if self.siglip_text:
            return {"padding": "max_length", "max_length": SIGLIP_TEXT_LENGTH, "truncation": True}
        # The pipeline does not truncate CLIP texts and fails on long ones; truncating to the
        # model's 77 tokens gives the same result on every text the pipeline accepts.
        return {"padding": True, "truncation": True}


def lowercase_first(tokenizer: object) -> None:
    """Make a fast tokenizer lowercase its texts before anything else, exactly as transformers'
    `Siglip2Tokenizer` does (its normaliser: `Lowercase` then the Gemma one); a no-op if it already
    lowercases. Python's `str.lower` would differ on a few letters (a final sigma)."""
    from tokenizers import normalizers

    backend = tokenizer.backend_tokenizer  # type: ignore[attr-defined]
    current = backend.normalizer
    if current is not None and "Lowercase" in repr(current):
        return
    backend.normalizer = normalizers.Sequence([normalizers.Lowercase(), *([current] if current else [])])


class HFImagePreprocessor:
    """A transformers image processor with its call options, as a picklable function."""

    def __init__(self, image_processor: object, kwargs: dict[str, object]) -> None:
        self.image_processor = image_processor
        self.kwargs = kwargs

    def __call__(self, images: list[Image.Image]) -> Pixels:
        inputs = self.image_processor(images=images, return_tensors="pt", **self.kwargs)  # type: ignore[operator]
        return dict(inputs)


def _get(size: object, name: str) -> int | None:
    if size is None:
        return None
    value = size.get(name) if isinstance(size, dict) else getattr(size, name, None)
    return int(value) if value else None


def _image_size(image_processor: object) -> int | None:
    sides = [
        value
        for size in (getattr(image_processor, "size", None), getattr(image_processor, "crop_size", None))
        for value in (_get(size, "height"), _get(size, "shortest_edge"))
        if value
    ]
    return int(max(sides)) if sides else None
