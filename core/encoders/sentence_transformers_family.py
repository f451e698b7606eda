"""Multilingual CLIP through sentence-transformers: CLIP ViT-B/32 images + a distilled multilingual
text encoder trained to land in the same space.

The text model was distilled to match CLIP's text embeddings, so label probabilities use CLIP's
own recipe, a softmax of 100 x cosine (CLIP's learned logit scale), and read like CLIP's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders.base import Encoder, normalize
from core.errors import ModelLoadError
from core.registry import ModelSpec

#: CLIP's logit scale (exp of its learned temperature), used for multilingual CLIP's softmax.
CLIP_LOGIT_SCALE = 100.0


class SentenceTransformersEncoder(Encoder):
    def __init__(self, spec: ModelSpec, sources: dict[str, str], settings: Settings) -> None:
        super().__init__(spec, sources, settings)
        import torch
        from sentence_transformers import SentenceTransformer

        self.logit_scale = CLIP_LOGIT_SCALE
        # sentence-transformers feeds fp32 pixels to its CLIP module: the weights stay fp32 too.
        self.dtype = torch.float32
        self.image_model = SentenceTransformer(sources["image"], device=self.device, trust_remote_code=False)
        self.text_model = SentenceTransformer(sources["text"], device=self.device, trust_remote_code=False)
        image_dim = self.image_model.get_embedding_dimension()
        text_dim = self.text_model.get_embedding_dimension()
        if image_dim and text_dim and image_dim != text_dim:
            raise ModelLoadError(
                f"Multilingual CLIP towers disagree: image model {sources['image']} gives {image_dim} "
                f"dimensions, text model {sources['text']} gives {text_dim}. Point both at matching models."
            )
        self._dim = int(text_dim or image_dim or self.embed_texts(["a"]).shape[1])

    @property
    def dim(self) -> int:
        return self._dim

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        return self._encode(self.image_model, images)

    def _embed_text_batch(self, texts: list[str], language: str | None) -> np.ndarray:
        return self._encode(self.text_model, texts)

    @staticmethod
    def _encode(model: object, inputs: list) -> np.ndarray:
        embeddings = model.encode(  # type: ignore[attr-defined]
            inputs, batch_size=len(inputs), convert_to_numpy=True, show_progress_bar=False
        )
        return normalize(embeddings)
