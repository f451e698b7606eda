"""Decoding the images of a build on the CPU: open, thumbnail and model preprocessing, per image.

`ImageLoader` turns an image item into what the model and the index need: the model's input tensors
(`Pixels`, or the RGB image for families without a fast path), a JPEG thumbnail and the full image
size. It is fast in two ways:

* JPEGs are decoded in libjpeg's draft mode at the smallest 1/2, 1/4 or 1/8 scale that still covers
  both the model's input size and the thumbnail, after the size checks of `core.images` (anything
  else, and any JPEG that fails this way, is opened by `core.images.open_query_image`: the memory of
  one decode is bounded as for a query, whatever the image). This changes the
  pixels slightly; embeddings agree with a full decode at cosine >= 0.999.
* With `workers` > 0, worker processes decode and preprocess while the model embeds (on a 2-core CPU
  the model needs both cores, so the default there is to decode in the build's reader thread).
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from core.encoders import Encoder
from core.encoders.base import ImagePreprocessor, Pixels
from core.errors import InvalidInputError
from core.images import MAX_IMAGE_BYTES, check_size, open_query_image
from core.index.build.options import parse_workers
from core.index.format.thumbnails import make_thumbnail
from core.index.sources import Item

#: Most decode workers chosen by `auto` beside a GPU.
MAX_AUTO_WORKERS = 8


@dataclass
class LoadedImage:
    """One image ready for the model and the index.

    Attributes:
        pixels: The model's inputs for this image (batch of one), or None when `image` goes to
            `Encoder.embed_images` instead.
        image: The decoded RGB image, when `pixels` is None.
        thumbnail: JPEG bytes of the display thumbnail.
        width, height: Size of the full, upright image.
    """

    pixels: Pixels | None
    image: Image.Image | None
    thumbnail: bytes
    width: int
    height: int


def resolve_workers(setting: str | int | None, device: str) -> int:
    """Decode worker processes for the `decode_workers` setting: `auto` (None) is none on the CPU (where
    the model already uses every core) and one per spare core, up to 8, beside a GPU.

    Raises:
        InvalidInputError: neither `auto` nor a whole number >= 0 (`options.parse_workers`).
    """
    workers = parse_workers(setting)
    if workers is not None:
        return workers
    if not device.startswith("cuda"):
        return 0
    return max(1, min(MAX_AUTO_WORKERS, (os.cpu_count() or 2) - 1))


def draft_size_for(encoder: Encoder, thumbnail_size: int) -> int | None:
    """Smallest side a draft decode may go down to: the model's input and the thumbnail must not be
    upscaled. None (full decode) for models of variable input size (NaFlex)."""
    path = encoder.fast_path
    size = path.image_size if path is not None else None
    return max(size, thumbnail_size) if size else None


def open_item(item: Item) -> Image.Image:
    """Decode an image item (its file or bytes) safely, as RGB.

    Raises:
        InvalidInputError: no image, or not a usable one (see `core.images.open_query_image`).
    """
    if item.data is not None:
        return open_query_image(item.data)
    if item.path is not None:
        return open_query_image(item.path)
    raise InvalidInputError("the row has no image")


def encoded_jpeg(item: Item) -> bytes | None:
    """The JPEG file of an image item, when it is a JPEG within the size limits of `core.images`;
    None for anything else. Only the header is parsed, so this is cheap."""
    data = item.data
    try:
        if data is None and item.path is not None:
            if os.path.getsize(item.path) > MAX_IMAGE_BYTES:
                return None
            with open(item.path, "rb") as file:
                data = file.read()
        if data is None or len(data) > MAX_IMAGE_BYTES or not data.startswith(b"\xff\xd8"):
            return None
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG" or image.mode not in ("RGB", "L"):
                return None
            check_size(image.width, image.height)
    except (OSError, InvalidInputError, Image.DecompressionBombError):
        return None  # the PIL path reports the problem
    return data


def draft_decode(item: Item, draft_size: int) -> tuple[Image.Image, tuple[int, int]] | None:
    """Decode the JPEG of `item` at a reduced scale whose sides are both >= `draft_size`.

    Returns:
        The upright RGB image and the full upright size, or None when the item is not a JPEG that
        passes the size checks, or fails to decode this way (the caller then uses `open_item`).
    """
    from PIL import ImageOps

    from core.images import to_rgb

    jpeg = encoded_jpeg(item)
    if jpeg is None:
        return None
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            swap = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF rotations by 90 degrees
            full = (image.height, image.width) if swap else (image.width, image.height)
            image.draft("RGB", (draft_size, draft_size))
            upright = ImageOps.exif_transpose(image) or image
            upright.load()
            return to_rgb(upright), full
    except Exception:  # PIL raises many types; open_item gives the user-facing reason
        return None


def load_image(
    item: Item, draft_size: int | None, thumbnail_size: int, preprocess: ImagePreprocessor | None
) -> LoadedImage:
    """Decode one image item, make its thumbnail and, with `preprocess`, its pixels.

    Raises:
        InvalidInputError, OSError: the image cannot be used.
    """
    decoded = draft_decode(item, draft_size) if draft_size else None
    if decoded is None:
        image = open_item(item)
        width, height = image.size
    else:
        image, (width, height) = decoded
    thumbnail = make_thumbnail(image, thumbnail_size)
    if preprocess is None:
        return LoadedImage(None, image, thumbnail, width, height)
    pixels = {key: _numpy(value) for key, value in preprocess([image]).items()}
    return LoadedImage(pixels, None, thumbnail, width, height)


def _numpy(value: Any) -> Any:
    """Tensors cross process boundaries as numpy arrays (no shared-memory file handles)."""
    return value.numpy() if hasattr(value, "numpy") else value


class ImageLoader:
    """Loads image items in order, inline or in worker processes, a bounded number ahead.

    Use as a context manager; `submit` returns a future whose result is a LoadedImage or the reason
    the item is skipped (a string).
    """

    def __init__(self, encoder: Encoder, *, thumbnail_size: int, workers: int = 0) -> None:
        path = encoder.fast_path
        self.preprocess = path.preprocess if path is not None else None
        self.draft_size = draft_size_for(encoder, thumbnail_size)
        self.thumbnail_size = thumbnail_size
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ImageLoader:
        if self.workers > 0:
            import multiprocessing

            # spawn, not fork: the parent runs torch's thread pools and the build's reader thread.
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.preprocess,),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, item: Item) -> Future:
        """Start loading one item; the future's result is a LoadedImage or a skip reason."""
        if self._pool is not None:
            return self._pool.submit(_load_in_worker, item, self.draft_size, self.thumbnail_size)
        future: Future = Future()
        future.set_result(load_or_reason(item, self.draft_size, self.thumbnail_size, self.preprocess))
        return future

    def load_all(self, items: Iterable[Item]) -> Iterator[LoadedImage | str]:
        """Results in the order of `items`, keeping up to `4 x workers` items in flight."""
        ahead = max(1, 4 * self.workers)
        pending: deque[Future] = deque()
        for item in items:
            pending.append(self.submit(item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def load_or_reason(
    item: Item, draft_size: int | None, thumbnail_size: int, preprocess: ImagePreprocessor | None
) -> LoadedImage | str:
    """`load_image`, or the reason the item cannot be used."""
    try:
        return load_image(item, draft_size, thumbnail_size, preprocess)
    except (InvalidInputError, OSError) as error:
        return str(error)


_worker_preprocess: ImagePreprocessor | None = None


def _init_worker(preprocess: ImagePreprocessor | None) -> None:
    global _worker_preprocess
    _worker_preprocess = preprocess
    try:  # one thread per worker: the workers are the parallelism, and the model needs the cores
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency, but the worker does not need it
        pass


def _load_in_worker(item: Item, draft_size: int | None, thumbnail_size: int) -> LoadedImage | str:
    return load_or_reason(item, draft_size, thumbnail_size, _worker_preprocess)
