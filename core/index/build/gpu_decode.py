"""Decoding JPEG files in batches on the GPU (nvJPEG through `torchvision.io.decode_jpeg`).

On CUDA, a build's JPEG files are decoded on the GPU and resized there by the encoder's
`fast_path.tensor_preprocess`, so they never pass through PIL; other formats take the CPU path of
`core.index.build.decode`. EXIF orientation is applied on the tensors (decode_jpeg ignores it on CUDA).
The same code runs on the CPU, which is how the tests cover it.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from core.encoders import Encoder
from core.encoders.base import Pixels
from core.index.format.thumbnails import THUMBNAIL_QUALITY


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
    images = [upright(image, _orientation(jpeg)) for image, jpeg in zip(decoded, jpegs, strict=True)]
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


def upright(image: Any, orientation: int) -> Any:
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
