"""A stand-in for a model in index builds that tests kill: numpy only, so a child process starts in about a
second instead of importing torch and transformers.

Its vectors come from the pixels (a 2x2 thumbnail) and the text bytes, so they are deterministic and
differ between items: a resumed build can be compared with a clean one exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders.base import Encoder, normalize
from core.registry import get_spec

DIM = 12


class FakeEncoder(Encoder):
    def __init__(self, settings: Settings) -> None:
        # Not Encoder.__init__: it resolves the device and precision through torch.
        self.spec = get_spec("siglip")
        self.sources = {"": "fake-encoder"}
        self.settings = settings
        self.device = "cpu"
        self.dtype = None

    @property
    def dim(self) -> int:
        return DIM

    def embed_images(self, images: Sequence[Image.Image], *args: Any, **kwargs: Any) -> np.ndarray:
        rows = [np.asarray(image.convert("RGB").resize((2, 2)), np.float32).ravel() + 1.0 for image in images]
        return normalize(np.stack(rows)) if rows else np.zeros((0, DIM), np.float32)

    def embed_texts(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(text.encode()).digest()[:DIM], np.uint8) + 1.0 for text in texts]
        return normalize(np.stack(rows).astype(np.float32)) if rows else np.zeros((0, DIM), np.float32)

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        return self.embed_images(images)

    def _embed_text_batch(self, texts: list[str], language: str | None) -> np.ndarray:
        return self.embed_texts(texts)

    def scores(self, image_embedding: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        return text_embeddings @ image_embedding


def use_fake_encoder(setattr_: Any = setattr) -> None:
    """Make every model of the process a `FakeEncoder`: the process's encoder loader is replaced by one
    that makes fakes (pass `monkeypatch.setattr` in tests, so the real loader comes back after)."""
    import core.encoders

    fakes = core.encoders.EncoderLoader(factory=lambda spec, sources, settings: FakeEncoder(settings))
    setattr_(core.encoders, "loader", fakes)


class DiesOnceEncoder(FakeEncoder):
    """A FakeEncoder whose first image batch, in whichever process embeds it, kills that process
    (SIGKILL: no clean-up) after writing its pid to `marker`; every later batch is embedded."""

    def __init__(self, settings: Settings, marker: str) -> None:
        super().__init__(settings)
        self.marker = marker

    def embed_images(self, images: Sequence[Image.Image], *args: Any, **kwargs: Any) -> np.ndarray:
        import os
        import signal

        try:
            with open(self.marker, "x") as handle:  # only the first caller creates it
                handle.write(str(os.getpid()))
        except FileExistsError:
            return super().embed_images(images, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")
