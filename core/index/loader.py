"""Loading the images of a build: decode, thumbnail and model preprocessing, in one place.

Every image source (folders, datasets) goes through `ImageLoader`, which turns an item into what the
model and the index need: the model's input tensors (`Pixels`, or the RGB image for families that
only take images), a JPEG thumbnail and the full image size. It is fast in three ways:

* JPEGs are decoded in libjpeg's draft mode at the smallest 1/2, 1/4 or 1/8 scale that still covers
  both the model's input size and the thumbnail, after the size checks of `core.images` (anything
  else, and any JPEG that fails, is opened by the item's own `load`, i.e. `core.images.open_image`).
  This changes the pixels slightly; embeddings agree with a full decode at cosine >= 0.999.
* With `workers` > 0, worker processes decode and preprocess while the model embeds (on a 2-core CPU
  the model needs both cores, so the default there is to decode in the build's reader thread).
* On CUDA, JPEG files are decoded on the GPU (`torchvision.io.decode_jpeg`) and resized there by the
  encoder's `fast_path.tensor_preprocess`, so they never pass through PIL; other formats take the CPU path.
"""

from __future__ import annotations

import io
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from core.encoders import Encoder
from core.encoders.base import ImagePreprocessor, Pixels
from core.errors import InvalidInputError

log = logging.getLogger(__name__)

#: JPEG quality of the display thumbnails.
THUMBNAIL_QUALITY = 85
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


def resolve_workers(setting: str | int, device: str) -> int:
    """Decode worker processes for the `decode_workers` setting: `auto` is none on the CPU (where the
    model already uses every core) and one per spare core, up to 8, beside a GPU.

    Raises:
        InvalidInputError: neither `auto` nor a whole number >= 0.
    """
    if str(setting).strip().lower() == "auto":
        if not device.startswith("cuda"):
            return 0
        return max(1, min(MAX_AUTO_WORKERS, (os.cpu_count() or 2) - 1))
    try:
        workers = int(setting)
    except ValueError:
        workers = -1
    if workers < 0:
        raise InvalidInputError(f"decode_workers must be 'auto' or a whole number >= 0, got {setting!r}.")
    return workers


def draft_size_for(encoder: Encoder, thumbnail_size: int) -> int | None:
    """Smallest side a draft decode may go down to: the model's input and the thumbnail must not be
    upscaled. None (full decode) for models of variable input size (NaFlex)."""
    path = encoder.fast_path
    size = path.image_size if path is not None else None
    return max(size, thumbnail_size) if size else None


def load_image(
    load: Callable[..., Any],
    draft_size: int | None,
    thumbnail_size: int,
    preprocess: ImagePreprocessor | None,
) -> LoadedImage:
    """Decode one image item (`Item.load`), make its thumbnail and, with `preprocess`, its pixels.

    Raises:
        InvalidInputError, OSError: the image cannot be used.
    """
    decoded = draft_decode(load, draft_size) if draft_size else None
    if decoded is None:
        image = load()
        width, height = image.size
    else:
        image, (width, height) = decoded
    thumbnail = thumbnail_jpeg(image, thumbnail_size)
    if preprocess is None:
        return LoadedImage(None, image, thumbnail, width, height)
    pixels = {key: _numpy(value) for key, value in preprocess([image]).items()}
    return LoadedImage(pixels, None, thumbnail, width, height)


def draft_decode(load: Callable[..., Any], draft_size: int) -> tuple[Image.Image, tuple[int, int]] | None:
    """Decode the JPEG behind `load` at a reduced scale whose sides are both >= `draft_size`.

    Returns:
        The upright RGB image and the full upright size, or None when the item is not a JPEG that
        passes the size checks, or fails to decode this way (the caller then uses `load()`).
    """
    from PIL import ImageOps

    from core.images import to_rgb

    jpeg = encoded_jpeg(load)
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
    except Exception:  # PIL raises many types; open_image gives the user-facing reason
        return None


def thumbnail_jpeg(image: Image.Image, size: int) -> bytes:
    """JPEG bytes of `image` shrunk to at most `size` pixels on its longer side."""
    thumbnail = image.copy()
    thumbnail.thumbnail((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumbnail.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def _numpy(value: Any) -> Any:
    """Tensors cross process boundaries as numpy arrays (no shared-memory file handles)."""
    return value.numpy() if hasattr(value, "numpy") else value


class ImageLoader:
    """Loads image items in order, inline or in worker processes, a bounded number ahead.

    Use as a context manager; `load_all` yields, for each item, a LoadedImage or the reason it was
    skipped (a string).
    """

    def __init__(self, encoder: Encoder, *, thumbnail_size: int, workers: int = 0) -> None:
        self.preprocess = encoder.fast_path.preprocess if encoder.fast_path is not None else None
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

    def submit(self, load: Callable[..., Any]) -> Future:
        """Start loading one item; the future's result is a LoadedImage or a skip reason."""
        if self._pool is not None:
            return self._pool.submit(_load_in_worker, load, self.draft_size, self.thumbnail_size)
        future: Future = Future()
        future.set_result(_load_or_reason(load, self.draft_size, self.thumbnail_size, self.preprocess))
        return future

    def load_all(self, loads: Iterable[Callable[..., Any]]) -> Iterator[LoadedImage | str]:
        """Results in the order of `loads`, keeping up to `4 x workers` items in flight."""
        ahead = max(1, 4 * self.workers)
        pending: deque[Future] = deque()
        for load in loads:
            pending.append(self.submit(load))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _load_or_reason(
    load: Callable[..., Any],
    draft_size: int | None,
    thumbnail_size: int,
    preprocess: ImagePreprocessor | None,
) -> LoadedImage | str:
    try:
        return load_image(load, draft_size, thumbnail_size, preprocess)
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


def _load_in_worker(
    load: Callable[..., Any], draft_size: int | None, thumbnail_size: int
) -> LoadedImage | str:
    return _load_or_reason(load, draft_size, thumbnail_size, _worker_preprocess)


# --------------------------------------------------------------------------------------------------
# GPU decode


def gpu_decode_available(encoder: Encoder) -> bool:
    """True when JPEGs can be decoded on the encoder's GPU and preprocessed there."""
    path = encoder.fast_path
    if not encoder.device.startswith("cuda") or path is None or path.tensor_preprocess is None:
        return False
    try:
        import torch
        import torchvision.io  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


def encoded_jpeg(load: Callable[..., Any]) -> bytes | None:
    """The JPEG file behind an image item's `load` (a path or a dataset cell with bytes or a path),
    when it is a JPEG within the size limits of `core.images`; None for anything else.

    Only the header is parsed, so this is cheap; the limits are checked as `open_image` would.
    """
    from core.images import MAX_IMAGE_BYTES, check_size

    arguments = getattr(load, "args", ())
    cell = arguments[0] if arguments else None
    if isinstance(cell, dict):
        cell = cell.get("bytes") or cell.get("path")
    try:
        if isinstance(cell, (str, os.PathLike)):
            if os.path.getsize(cell) > MAX_IMAGE_BYTES:
                return None
            with open(cell, "rb") as file:
                cell = file.read()
        if not isinstance(cell, bytes) or len(cell) > MAX_IMAGE_BYTES or not cell.startswith(b"\xff\xd8"):
            return None
        with Image.open(io.BytesIO(cell)) as image:
            if image.format != "JPEG" or image.mode not in ("RGB", "L"):
                return None
            check_size(image.width, image.height)
    except (OSError, InvalidInputError, Image.DecompressionBombError):
        return None  # the PIL path reports the problem
    return cell


def decode_jpegs_to_pixels(
    jpegs: list[bytes], encoder: Encoder, thumbnail_size: int, device: str | None = None
) -> tuple[Pixels, list[bytes], list[tuple[int, int]]]:
    """Decode JPEG files in one batch on `device` (default: the encoder's), and return the model's
    pixels for them (on that device), their JPEG thumbnails and their sizes.

    EXIF orientation is applied as the PIL path does. Runs on the CPU too (how the tests cover it).

    Raises:
        RuntimeError: a file that is not a decodable JPEG (the caller falls back to PIL for it).
    """
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg
    from torchvision.transforms.v2 import functional as F

    device = device or encoder.device
    assert encoder.fast_path is not None and encoder.fast_path.tensor_preprocess is not None
    preprocess = encoder.fast_path.tensor_preprocess
    data = [torch.frombuffer(bytearray(jpeg), dtype=torch.uint8) for jpeg in jpegs]
    decoded = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    # decode_jpeg ignores EXIF orientation on CUDA: turn the images upright here, on any device.
    images = [_upright(image, _orientation(jpeg)) for image, jpeg in zip(decoded, jpegs, strict=True)]
    sizes = [(int(image.shape[2]), int(image.shape[1])) for image in images]
    smalls = []
    for image, (width, height) in zip(images, sizes, strict=True):
        scale = min(1.0, thumbnail_size / max(width, height))
        smalls.append(
            F.resize(
                image,
                [max(1, round(height * scale)), max(1, round(width * scale))],
                interpolation=F.InterpolationMode.BICUBIC,
                antialias=True,
            )
        )
    pixels = preprocess(images)
    # One batched encode, then one copy each: no GPU synchronisation per image before this point.
    thumbnails = [data.cpu().numpy().tobytes() for data in encode_jpeg(smalls, quality=THUMBNAIL_QUALITY)]
    return pixels, thumbnails, sizes


def _orientation(jpeg: bytes) -> int:
    with Image.open(io.BytesIO(jpeg)) as image:
        return int(image.getexif().get(0x0112, 1))


def _upright(image: Any, orientation: int) -> Any:
    """Apply an EXIF orientation to a (3, H, W) tensor as `PIL.ImageOps.exif_transpose` does."""
    import torch

    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-1, -2)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-2, -1)
    if orientation == 6:
        return torch.rot90(image, -1, dims=(-2, -1))
    if orientation == 7:
        return image.flip(-1, -2).transpose(-2, -1)
    if orientation == 8:
        return torch.rot90(image, 1, dims=(-2, -1))
    return image
