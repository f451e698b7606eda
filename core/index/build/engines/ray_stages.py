"""The Ray engine's stages, as Ray Data runs them on the cluster's workers.

    shard (driver)      key, path, data, text        one Arrow block per shard of items to embed
    ImageDecoder        + pixels.*|image|jpeg, thumbnail, width, height, reason   CPU actors
    EmbedActor          key, vector, reason, thumbnail, width, height, seconds  the model's actors

Images are decoded by the local engine's own `core.index.build.decode.load_or_reason` and embedded by its
own `Embedder`, so both engines make the same vectors. An item that cannot be used keeps its row,
with the reason and a blank payload of the right shape (Ray Data batches need one schema), and comes
back to the driver as a skip. Nothing here writes the index: the driver does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders import get_encoder
from core.index.build.decode import LoadedImage, draft_size_for, encoded_jpeg, load_or_reason
from core.index.build.embedder import Embedder
from core.index.build.gpu_decode import decode_jpegs_to_pixels
from core.index.build.options import EmbedOptions
from core.index.format.layout import Kind
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
    model's preprocessing is shipped once per actor). With `gpu_jpegs`, JPEG files are only read and
    checked here (`jpeg` column): the model's actor decodes them in one batch on its GPU; other
    images are decoded here and travel as RGB arrays."""

    def __init__(
        self, *, draft_size: int | None, thumbnail_size: int, preprocess: Any | None, gpu_jpegs: bool = False
    ) -> None:
        self.draft_size = draft_size
        self.thumbnail_size = thumbnail_size
        self.preprocess = preprocess
        self.gpu_jpegs = gpu_jpegs

    def __call__(self, batch: Batch) -> Batch:
        items = [_item(*row) for row in zip(batch["key"], batch["path"], batch["data"], strict=True)]
        jpegs = [encoded_jpeg(item) if self.gpu_jpegs else None for item in items]
        preprocess = None if self.gpu_jpegs else self.preprocess
        loaded = [
            b"" if jpeg else load_or_reason(item, self.draft_size, self.thumbnail_size, preprocess)
            for item, jpeg in zip(items, jpegs, strict=True)
        ]
        done = [image if isinstance(image, LoadedImage) else None for image in loaded]
        out: Batch = {
            "key": batch["key"],
            "reason": np.array([i if isinstance(i, str) else "" for i in loaded], dtype=object),
            "thumbnail": np.array([i.thumbnail if i else b"" for i in done], dtype=object),
            "width": np.array([i.width if i else 0 for i in done], np.int64),
            "height": np.array([i.height if i else 0 for i in done], np.int64),
        }
        if self.gpu_jpegs:
            out["jpeg"] = np.array([jpeg or b"" for jpeg in jpegs], dtype=object)
        if preprocess is None:  # RGB arrays (any size): families without a fast path, or beside GPU JPEGs
            blank = np.zeros((1, 1, 3), np.uint8)
            out["image"] = _ragged([np.asarray(i.image) if i else blank for i in done])
            return out
        good = [image for image in done if image is not None]
        template = good[0].pixels if good else _blank_pixels(preprocess)
        for name, value in template.items():  # type: ignore[union-attr]
            out[PIXELS + name] = np.concatenate([i.pixels[name] if i else np.zeros_like(value) for i in done])
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
        kind, embedding: As the local engine's `Embedder`.
        thumbnail_size: Of the thumbnails of JPEGs decoded here (rows with a `jpeg` column).
    """

    def __init__(
        self,
        *,
        model_key: str,
        settings: Settings,
        encoder: Any | None,
        kind: str,
        embedding: EmbedOptions,
        thumbnail_size: int = 0,
    ) -> None:
        self.encoder = encoder if encoder is not None else get_encoder(model_key, settings, bulk=True)
        self.kind = Kind(kind)
        self.dim = self.encoder.dim
        self.thumbnail_size = thumbnail_size
        self.embedder = Embedder(self.encoder, self.kind, embedding)

    def __call__(self, batch: Batch) -> Batch:
        count = len(batch["key"])
        out: Batch = {
            "key": batch["key"],
            "reason": np.array(batch.get("reason", [""] * count), dtype=object),
        }
        for column in ("thumbnail", "width", "height"):
            if column in batch:
                out[column] = np.array(batch[column])  # writable: JPEGs decoded here fill them in
        if "jpeg" in batch:
            payloads = self._decoded_here(batch, out)
        else:
            payloads = {n: self._payload(batch, n) for n in range(count) if not out["reason"][n]}
        todo = list(payloads)
        out["vector"] = np.zeros((count, self.dim), np.float32)
        started = self.embedder.seconds
        if todo:
            found, failed = self.embedder.embed([payloads[n] for n in todo])
            out["vector"][[n for position, n in enumerate(todo) if position not in failed]] = found
            for position, reason in failed.items():
                out["reason"][todo[position]] = reason
        out["seconds"] = np.full(count, (self.embedder.seconds - started) / max(count, 1))
        out["notes"] = np.array(["\n".join(self.embedder.notes)] * count, dtype=object)
        return out

    def _decoded_here(self, batch: Batch, out: Batch) -> dict[int, Any]:
        """Payloads of a batch whose JPEGs are decoded here, on the model's device (as the local
        engine's reader does beside a GPU); other formats come decoded by the CPU actors."""
        import torch

        jpegs = [n for n, jpeg in enumerate(batch["jpeg"]) if jpeg and not out["reason"][n]]
        payloads: dict[int, Any] = {}
        for n, result in zip(
            jpegs, self._decode_jpegs([bytes(batch["jpeg"][n]) for n in jpegs]), strict=True
        ):
            if isinstance(result, str):
                out["reason"][n] = result
            else:
                out["thumbnail"][n], out["width"][n], out["height"][n], payloads[n] = result
        preprocess = self.encoder.fast_path.preprocess  # type: ignore[union-attr]
        for n in range(len(out["key"])):
            if n not in payloads and not out["reason"][n]:
                payloads[n] = preprocess([Image.fromarray(np.asarray(batch["image"][n], np.uint8))])
        device = self.encoder.device  # one device for the whole batch: the model's
        return {
            n: {k: torch.as_tensor(v).to(device) for k, v in payloads[n].items()} for n in sorted(payloads)
        }

    def _decode_jpegs(self, jpegs: list[bytes]) -> list[tuple[bytes, int, int, Any] | str]:
        """(thumbnail, width, height, pixels) or the skip reason of each JPEG: decoded in one call; if
        one bad file fails that call, each through the CPU path instead."""
        if not jpegs:
            return []
        try:
            pixels, thumbnails, sizes = decode_jpegs_to_pixels(jpegs, self.encoder, self.thumbnail_size)
        except RuntimeError:
            draft = draft_size_for(self.encoder, self.thumbnail_size)
            preprocess = self.encoder.fast_path.preprocess  # type: ignore[union-attr]
            loaded = [
                load_or_reason(_item("", None, jpeg), draft, self.thumbnail_size, preprocess)
                for jpeg in jpegs
            ]
            return [i if isinstance(i, str) else (i.thumbnail, i.width, i.height, i.pixels) for i in loaded]
        return [
            (thumbnails[row], width, height, {key: value[row : row + 1] for key, value in pixels.items()})
            for row, (width, height) in enumerate(sizes)
        ]

    def _payload(self, batch: Batch, n: int) -> Any:
        if self.kind == Kind.TEXT:
            return batch["text"][n]
        if "image" in batch:
            return Image.fromarray(np.asarray(batch["image"][n], np.uint8))
        # A copy: Ray hands over read-only views of its blocks, which torch will not wrap.
        return {
            name[len(PIXELS) :]: batch[name][n : n + 1].copy() for name in batch if name.startswith(PIXELS)
        }
