"""The build's embedder: a batch of loaded payloads in, normalised vectors out.

Images preprocessed by the reader (`Pixels`) go through the image runtime chosen on the first batch
(`image_runtime="auto"`: the fastest that agrees with fp32, see `core.encoders.runtimes`; "torch":
the encoder's own fast path; "onnx-int8": an int8 tower whenever it agrees); decoded images and
texts go through `embed_images` / `embed_texts`. A batch the model fails on is embedded one item at
a time, so one odd input is skipped with its reason instead of stopping the build; if every item
fails, the model (not the data) is at fault and the error is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from core.encoders import Encoder, onnx_tower, runtimes
from core.encoders.base import collate
from core.encoders.runtimes import RuntimeChoice
from core.index.build.options import EmbedOptions
from core.index.format.layout import Kind
from core.vectors import normalize

log = logging.getLogger(__name__)


class Embedder:
    """Embeds a build's batches with one encoder; counts model time and collects notes for the report.

    Attributes:
        choice: The image runtime in use and why, once the first batch of pixels decided it.
        images: How many images the build will embed, when known (`runtimes.EXPORT_MIN_IMAGES`).
    """

    def __init__(self, encoder: Encoder, kind: Kind, options: EmbedOptions | None = None) -> None:
        """Raises InvalidInputError: "onnx-int8" where it cannot run (its values are checked by
        `BuildOptions.check`)."""
        options = options or EmbedOptions()
        self.encoder = encoder
        self.kind = kind
        self.language = options.language
        self.seconds = 0.0
        self.notes: list[str] = []
        self.images: int | None = None
        self.choice: RuntimeChoice | None = None
        self._runtime = options.image_runtime
        self._torch_reason = "image_runtime=torch"
        self._embed_pixels: Callable[[dict[str, Any]], np.ndarray] | None = None
        if kind == Kind.IMAGE and self._runtime == "onnx-int8":
            onnx_tower.export(encoder)  # before the build starts; raises if the model cannot run there
        elif self._runtime == "auto" and options.precision != "auto":  # honoured as given
            self._runtime, self._torch_reason = "torch", f"precision {options.precision} was asked for"

    def embed(self, payloads: list[Any]) -> tuple[np.ndarray, dict[int, str]]:
        """(vectors of the items that could be embedded, {position: reason} of those that could not)."""
        started = time.perf_counter()
        try:
            vectors, failed = self._embed_or_one_by_one(payloads)
        finally:
            self.seconds += time.perf_counter() - started
        return normalize(vectors), failed

    def _embed_or_one_by_one(self, payloads: list[Any]) -> tuple[np.ndarray, dict[int, str]]:
        try:
            return self._embed_many(payloads), {}
        except Exception as error:  # a model error on one odd input must not stop the build
            if len(payloads) == 1:
                return np.zeros((0, self.encoder.dim), np.float32), {0: _model_failure(error)}
            log.warning("Batch failed (%s); embedding its items one by one", error)
        rows, failed = [], {}
        first_error: Exception | None = None
        for n, payload in enumerate(payloads):
            try:
                rows.append(self._embed_many([payload]))
            except Exception as error:
                first_error = first_error or error
                failed[n] = _model_failure(error)
        if not rows and first_error is not None:
            raise first_error  # every item fails: the model, not the data, is at fault
        return np.concatenate(rows), failed

    def _embed_many(self, payloads: list[Any]) -> np.ndarray:
        if self.kind == Kind.TEXT:
            return self.encoder.embed_texts(payloads, language=self.language, batch_size=len(payloads))
        if not isinstance(payloads[0], dict):  # decoded images: the family has no fast path
            return self.encoder.embed_images(payloads, batch_size=len(payloads))
        pixels = collate(payloads)
        if self._embed_pixels is not None:
            return self._embed_pixels(pixels)
        return self._choose(pixels)

    def _choose(self, pixels: dict[str, Any]) -> np.ndarray:
        """Decide the image runtime on the first batch of pixels (see `core.encoders.runtimes`) and
        return the batch's embeddings (those of the trial's sample are reused)."""
        if self._runtime == "torch":
            choice = RuntimeChoice(runtimes.torch_name(self.encoder), self._torch_reason)
            embed = self.encoder.fast_path.embed  # type: ignore[union-attr]
            done = np.zeros((0, self.encoder.dim), np.float32)
        else:
            only = self._runtime == "onnx-int8"
            choice, candidate, done = runtimes.choose(
                self.encoder, pixels, images=self.images, int8_only=only
            )
            embed = candidate.embed
        self.choice, self._embed_pixels = choice, embed
        self.notes.append(choice.note())
        log.info(self.notes[-1])
        rest = {key: value[len(done) :] for key, value in pixels.items()}
        return np.concatenate([done, embed(rest)]) if len(rest["pixel_values"]) else done


def _model_failure(error: Exception) -> str:
    return f"the model could not embed it ({type(error).__name__}: {' '.join(str(error).split())[:200]})"
