"""open_clip models: NLLB-CLIP (a CLIP image tower with the NLLB-200 text encoder) and any model named
by an `open_clip:` reference (PE-Core, open_clip's SigLIP 2...), each with open_clip's own tokenizer
and preprocessing; SigLIP-type models add their logit bias and score with a sigmoid.

The NLLB tokenizer prefixes each text with its source-language token (`eng_Latn`, `fra_Latn`...) and
NLLB-CLIP pools that first position, so texts are embedded per language; the wrong code gives
measurably worse scores.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders.base import Encoder, FastPath, Pixels, to_numpy
from core.languages import DEFAULT_LANGUAGE, check_language_code
from core.registry import ModelSpec


def parse_open_clip_name(value: str, default_tag: str | None) -> tuple[str, str | None]:
    """Split `name@tag` into the open_clip model name and pretrained tag.

    `hf-hub:` and `local-dir:` specs carry their weights and take no tag. A bare model name without
    `@tag` gets the registry's default tag.
    """
    if value.startswith(("hf-hub:", "local-dir:")):
        return value, None
    name, _, tag = value.partition("@")
    return name, tag or default_tag


class OpenClipEncoder(Encoder):
    def __init__(self, spec: ModelSpec, sources: dict[str, str], settings: Settings) -> None:
        super().__init__(spec, sources, settings)
        import open_clip

        name, tag = parse_open_clip_name(sources[""], spec.pretrained_tag)
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=tag, device=self.device, require_pretrained=tag is not None
        )
        self.logit_scale = float(model.logit_scale.detach().exp())
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = float(bias.detach()) if bias is not None else 0.0
        self.model = model.to(dtype=self.dtype).eval()
        self.preprocess = preprocess
        self._fast_path = self._make_fast_path()
        self.tokenizer = open_clip.get_tokenizer(name)
        # The tokenizer's language is state shared by all callers: set and use it under one lock.
        self._tokenizer_lock = threading.Lock()
        self.languages = frozenset(_language_codes(self.tokenizer))
        # open_clip configs name the embedding width in several ways; one text tells for sure.
        self._dim = int(self.embed_texts(["a"]).shape[1])

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fast_path(self) -> FastPath:
        return self._fast_path

    def _make_fast_path(self) -> FastPath:
        from core.encoders.pixels import from_open_clip_transform

        size = getattr(getattr(self.model, "visual", None), "image_size", None)
        return FastPath(
            image_size=int(max(size)) if isinstance(size, (tuple, list)) else (int(size) if size else None),
            preprocess=TransformPreprocessor(self.preprocess),
            tensor_preprocess=from_open_clip_transform(self.preprocess),
            embed_batch=self._embed_pixel_batch,
        )

    def _embed_pixel_batch(self, pixels: Pixels) -> np.ndarray:
        values = pixels["pixel_values"].to(self.device, self.dtype)
        return to_numpy(self.model.encode_image(values))

    def _embed_text_batch(self, texts: list[str], language: str | None) -> np.ndarray:
        if not self.languages:  # not NLLB: the tokenizer takes no language
            return to_numpy(self.model.encode_text(self.tokenizer(texts).to(self.device)))
        language = self.check_language(language or DEFAULT_LANGUAGE)
        with self._tokenizer_lock:
            # open_clip's set_language() is undone by transformers 5, which re-applies `src_lang` on
            # every call: set the attribute the NLLB tokenizer reads instead.
            self.tokenizer.tokenizer.src_lang = language
            tokens = self.tokenizer(texts)
        return to_numpy(self.model.encode_text(tokens.to(self.device)))

    def check_language(self, language: str) -> str:
        """Return `language` if the tokenizer knows it, else raise a clear error."""
        return check_language_code(language, self.languages) if self.languages else language


class TransformPreprocessor:
    """open_clip's per-image torchvision transform applied to a list of images, as a picklable function."""

    def __init__(self, transform: object) -> None:
        self.transform = transform

    def __call__(self, images: list[Image.Image]) -> Pixels:
        import torch

        return {"pixel_values": torch.stack([self.transform(image) for image in images])}  # type: ignore[operator]


def _language_codes(tokenizer: object) -> list[str]:
    """The NLLB language codes (`eng_Latn`...) the tokenizer knows: special tokens shaped xxx_Yyyy."""
    hf_tokenizer = getattr(tokenizer, "tokenizer", None)
    # transformers 5 keeps them in `extra_special_tokens`; 4.x called them `additional_special_tokens`.
    codes = getattr(hf_tokenizer, "extra_special_tokens", None) or getattr(
        hf_tokenizer, "additional_special_tokens", None
    )
    return [code for code in codes or [] if isinstance(code, str) and len(code) == 8 and code[3] == "_"]
