"""The build's embedder: a batch of loaded payloads in, normalised vectors out.

Images preprocessed by the reader (`Pixels`) go through the encoder's fast path (or, with
`image_runtime="onnx-int8"`, an int8 image tower on ONNX Runtime once it agrees with fp32 on the first
batch); decoded images and texts go through `embed_images` / `embed_texts`. A batch the model fails on
is embedded one item at a time, so one odd input is skipped with its reason instead of stopping the
build; if every item fails, the model (not the data) is at fault and the error is raised.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from core.encoders import Encoder
from core.encoders.base import collate
from core.index.build.options import EmbedOptions
from core.index.format.layout import Kind
from core.vectors import normalize

log = logging.getLogger(__name__)


class Embedder:
    """Embeds a build's batches with one encoder; counts model time and collects notes for the report."""

    def __init__(self, encoder: Encoder, kind: Kind, options: EmbedOptions | None = None) -> None:
        """Raises InvalidInputError: "onnx-int8" where it cannot run (its values are checked by
        `BuildOptions.check`)."""
        options = options or EmbedOptions()
        self.encoder = encoder
        self.kind = kind
        self.language = options.language
        self.seconds = 0.0
        self.notes: list[str] = []
        self.int8: Any = None  # the int8 image tower, once a batch agreed with fp32
        self.int8_pending = options.image_runtime == "onnx-int8" and kind == Kind.IMAGE
        if self.int8_pending:
            from core.encoders import onnx_int8

            onnx_int8.int8_tower(encoder)  # exported (once) before the build starts; raises if unsupported

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
        if self.int8_pending:
            self._try_int8(pixels)
        if self.int8 is not None:
            return self.int8.embed(pixels)
        return self.encoder.fast_path.embed(pixels)  # type: ignore[union-attr]

    def _try_int8(self, pixels: dict[str, Any]) -> None:
        """Check the int8 image tower against fp32 on this batch; use it from now on if it agrees."""
        from core.encoders import onnx_int8

        self.int8_pending = False
        tower = onnx_int8.int8_tower(self.encoder)
        cosine = tower.agreement(pixels)
        if cosine >= onnx_int8.MIN_COSINE:
            self.int8 = tower
            self.notes.append(
                f"Images embedded by the int8 ONNX Runtime tower (cosine to fp32 {cosine:.5f})."
            )
        else:
            self.notes.append(
                f"The int8 image tower agreed with fp32 only at cosine {cosine:.5f} < "
                f"{onnx_int8.MIN_COSINE} on the first batch: images were embedded with torch instead."
            )
        log.info(self.notes[-1])


def _model_failure(error: Exception) -> str:
    return f"the model could not embed it ({type(error).__name__}: {' '.join(str(error).split())[:200]})"
