"""The Ray engine's stages, as Ray Data runs them on the cluster's workers.

    shard (driver)      key, path, data, text        one Arrow block per shard of items to embed
    ImageDecoder        + pixels.*|image, thumbnail, width, height, reason     CPU actors
    EmbedActor          key, vector, reason, thumbnail, width, height, seconds  the model's actors

Images are decoded by the local engine's own `core.index.decode.load_or_reason` and embedded by its
own `Embedder`, so both engines make the same vectors. An item that cannot be used keeps its row,
with the reason and a blank payload of the right shape (Ray Data batches need one schema), and comes
back to the driver as a skip. Nothing here writes the index: the driver does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings
from core.index.decode import LoadedImage, load_or_reason
from core.index.layout import Kind
from core.index.sources import Item

#: Column prefix of the model's image inputs (`pixels.pixel_values`...).
PIXELS = "pixels."

Batch = dict[str, Any]


def shard_table(items: list[Item]) -> Any:
    """The Arrow block of a shard: what a worker needs to load each item (not its metadata)."""
    import pyarrow as pa

    return pa.table(
        {
            "key": pa.array([item.key for item in items], pa.string()),
            "path": pa.array([item.path for item in items], pa.string()),
            "data": pa.array([item.data for item in items], pa.binary()),
            "text": pa.array([item.text for item in items], pa.string()),
        }
    )


class ImageDecoder:
    """Decodes, thumbnails and preprocesses batches of image rows (a Ray actor on a CPU worker; the
    model's preprocessing is shipped once per actor)."""

    def __init__(self, *, draft_size: int | None, thumbnail_size: int, preprocess: Any | None) -> None:
        self.draft_size = draft_size
        self.thumbnail_size = thumbnail_size
        self.preprocess = preprocess

    def __call__(self, batch: Batch) -> Batch:
        loaded = [
            load_or_reason(_item(key, path, data), self.draft_size, self.thumbnail_size, self.preprocess)
            for key, path, data in zip(batch["key"], batch["path"], batch["data"], strict=True)
        ]
        out: Batch = {
            "key": batch["key"],
            "reason": np.array([i if isinstance(i, str) else "" for i in loaded], dtype=object),
            "thumbnail": np.array([b"" if isinstance(i, str) else i.thumbnail for i in loaded], dtype=object),
            "width": np.array([0 if isinstance(i, str) else i.width for i in loaded], np.int64),
            "height": np.array([0 if isinstance(i, str) else i.height for i in loaded], np.int64),
        }
        if self.preprocess is None:  # families without a fast path get RGB arrays (any size)
            blank = np.zeros((1, 1, 3), np.uint8)
            out["image"] = _ragged([blank if isinstance(i, str) else np.asarray(i.image) for i in loaded])
            return out
        good = [image for image in loaded if isinstance(image, LoadedImage)]
        template = good[0].pixels if good else _blank_pixels(self.preprocess)
        for name, value in template.items():  # type: ignore[union-attr]
            rows = [np.zeros_like(value) if isinstance(i, str) else i.pixels[name] for i in loaded]
            out[PIXELS + name] = np.concatenate(rows)
        return out


def _item(key: str, path: str | None, data: bytes | None) -> Item:
    return Item(key, "", key, {}, path=path or None, data=data or None)


def _ragged(arrays: list[np.ndarray]) -> np.ndarray:
    column = np.empty(len(arrays), dtype=object)
    column[:] = arrays
    return column


def _blank_pixels(preprocess: Any) -> dict[str, np.ndarray]:
    """Model inputs of a blank image: the shapes a batch of unusable images still has to carry."""
    return {name: np.asarray(value) for name, value in preprocess([Image.new("RGB", (64, 64))]).items()}


class EmbedActor:
    """One model replica (a Ray actor): loads the encoder once, then embeds batch after batch.

    Args:
        model_key, settings: What to load (`get_encoder`), unless `encoder` is given.
        encoder: An encoder object to use as is (it was pickled by the driver).
        kind, language, image_runtime: As the local engine's `Embedder`.
    """

    def __init__(
        self,
        *,
        model_key: str,
        settings: Settings,
        encoder: Any | None,
        kind: str,
        language: str | None,
        image_runtime: str,
    ) -> None:
        from core.encoders import get_encoder
        from core.index.embedder import Embedder

        encoder = encoder if encoder is not None else get_encoder(model_key, settings)
        self.kind = Kind(kind)
        self.dim = encoder.dim
        self.embedder = Embedder(encoder, self.kind, language, image_runtime)

    def __call__(self, batch: Batch) -> Batch:
        count = len(batch["key"])
        reasons = list(batch["reason"]) if "reason" in batch else [""] * count
        todo = [n for n, reason in enumerate(reasons) if not reason]
        vectors = np.zeros((count, self.dim), np.float32)
        started = self.embedder.seconds
        if todo:
            found, failed = self.embedder.embed([self._payload(batch, n) for n in todo])
            done = [n for position, n in enumerate(todo) if position not in failed]
            vectors[done] = found
            for position, reason in failed.items():
                reasons[todo[position]] = reason
        out: Batch = {
            "key": batch["key"],
            "vector": vectors,
            "reason": np.array(reasons, dtype=object),
            "seconds": np.full(count, (self.embedder.seconds - started) / max(count, 1)),
            "notes": np.array(["\n".join(self.embedder.notes)] * count, dtype=object),
        }
        for column in ("thumbnail", "width", "height"):
            if column in batch:
                out[column] = batch[column]
        return out

    def _payload(self, batch: Batch, n: int) -> Any:
        if self.kind == Kind.TEXT:
            return batch["text"][n]
        if "image" in batch:
            return Image.fromarray(np.asarray(batch["image"][n], np.uint8))
        # A copy: Ray hands over read-only views of its blocks, which torch will not wrap.
        return {
            name[len(PIXELS) :]: batch[name][n : n + 1].copy() for name in batch if name.startswith(PIXELS)
        }
