"""Safe image handling: opening files, converting any mode to RGB, compositing sketches.

Every model receives 8-bit RGB. Transparent areas become white (a sketch is drawn on white paper,
and a logo with a transparent background reads the same way), 16-bit and float images are scaled
to 8 bits by their actual range, animated images give their first frame.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from core.errors import InvalidInputError

#: Largest image, in pixels, that is decoded at all (larger files are refused, not resized):
#: 8,000 x 8,000 is far above what any model here needs, and 20,000 x 20,000 bombs stay out.
MAX_IMAGE_PIXELS = 64_000_000
#: Largest image file accepted, in bytes.
MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: Most pixels an image sent with a request keeps once decoded (2048 x 2048): the models read at most
#: 384 pixels a side (SigLIP 2 NaFlex: 256 patches of 16 x 16), so this keeps many times what they use,
#: and what the request costs no longer grows with the upload.
QUERY_PIXELS = 2048 * 2048
#: Most memory that decoding and downscaling one image sent with a request may take (see _PIXEL_BYTES):
#: 25 Mpx of RGB (a 6000 x 4000 PNG), 12 Mpx with transparency, 64 Mpx of greyscale. JPEGs decode at a
#: reduced scale first, so any JPEG under `MAX_IMAGE_PIXELS` fits.
MAX_QUERY_DECODE_BYTES = 100_000_000
#: File extensions treated as images when scanning folders.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
#: The only formats PIL may parse, whatever a file's name says (PIL knows dozens, some rarely used and
#: less tested): what `IMAGE_EXTENSIONS` name (PIL's JPEG reader also reads cameras' MPO files).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

WHITE = (255, 255, 255)
WHITE_RGBA = (*WHITE, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """Return an 8-bit RGB copy of `image`, whatever its mode, with transparency on white.

    Raises:
        InvalidInputError: the image is empty (0 pixels) or larger than `MAX_IMAGE_PIXELS`.
    """
    check_size(image.width, image.height)
    if getattr(image, "is_animated", False):
        image.seek(0)
    if image.mode == "RGB":
        return image.copy()
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        image = _to_8bit(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, WHITE_RGBA)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale a 16-bit or float greyscale image to 8 bits by its own range."""
    array = np.asarray(image, dtype=np.float64)
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    scale = 255.0 / (high - low) if high > low else 0.0
    scaled = np.nan_to_num((array - low) * scale).clip(0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidInputError("The image is empty (0 pixels). Use a real picture.")
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidInputError(
            f"The image is {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,} pixels. "
            "Resize it (e.g. to 2000 px on its longer side) and try again."
        )


def open_image(source: str | os.PathLike[str] | bytes) -> Image.Image:
    """Open an image file (path or bytes) safely and return it as RGB, whole: for images the app made
    or trusts (examples). Anything uploaded goes through `open_query_image`, whose memory is bounded.

    The header is checked before decoding, so a decompression bomb costs nothing.

    Raises:
        InvalidInputError: not an image, truncated or corrupt, too large in bytes or pixels.
    """
    return to_rgb(read_image(source))


def open_query_image(source: str | os.PathLike[str] | bytes) -> Image.Image:
    """Open an uploaded image (a picture to search with or to classify, an image of a collection or an
    evaluation) as RGB, at a bounded cost: `open_image`, decoded within `MAX_QUERY_DECODE_BYTES` and
    reduced to at most `QUERY_PIXELS` (see `read_image`). Images up to `QUERY_PIXELS` are exactly as
    `open_image` gives. The one decoder of every path that reads what visitors send.

    Raises:
        InvalidInputError: as `open_image`, or too large to decode within the request's memory.
    """
    return to_rgb(read_image(source, reduce_to=QUERY_PIXELS))


def read_image(source: str | os.PathLike[str] | bytes, reduce_to: int | None = None) -> Image.Image:
    """Open and decode an image file (path or bytes) safely, keeping its mode (transparency too).

    Checks the file size, then the pixel count from the header, before decoding anything.

    Args:
        source: A path or the file's bytes.
        reduce_to: At most this many pixels are kept: a JPEG is decoded at the smallest 1/2, 1/4 or 1/8
            scale that still has them, then the image is downscaled (Lanczos, aspect ratio kept); and an
            image whose decoding would take more than `MAX_QUERY_DECODE_BYTES` is refused.

    Raises:
        InvalidInputError: not an image, truncated or corrupt, too large in bytes or pixels.
    """
    name = "The upload" if isinstance(source, bytes) else f"'{Path(source).name}'"
    try:
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    except OSError:
        raise InvalidInputError(f"{name} could not be read. Upload the image again.") from None
    if size > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"{name} is {size / 2**20:.1f} MB, over the limit of {MAX_IMAGE_BYTES / 2**20:.0f} MB. "
            "Use a smaller file."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(
                io.BytesIO(source) if isinstance(source, bytes) else source, formats=IMAGE_FORMATS
            )
            check_size(image.width, image.height)
            if reduce_to is not None:
                image = _reduced(image, reduce_to, name)
            image = ImageOps.exif_transpose(image) or image
            image.load()
    except InvalidInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInputError(
            f"{name} has far more than {MAX_IMAGE_PIXELS:,} pixels, too many to decode safely. "
            "Resize it (e.g. to 2000 px on its longer side) and try again."
        ) from None
    except Image.UnidentifiedImageError:  # its message holds the server-side path: not for users
        raise InvalidInputError(
            f"{name} could not be read as an image: it is not an image file, or not in a format this app "
            "reads. Use a JPEG, PNG, WebP, GIF, BMP or TIFF file."
        ) from None
    except Exception as error:  # PIL raises many types for bad files
        raise InvalidInputError(
            f"{name} could not be read as an image ({type(error).__name__}: {error}). "
            "Use a JPEG, PNG, WebP, GIF, BMP or TIFF file."
        ) from None
    return image


def _reduced(image: Image.Image, pixels: int, name: str) -> Image.Image:
    """`image` (opened, not decoded) decoded with at most `pixels` kept; its EXIF stays for the caller."""
    width, height = image.size
    scale = min(1.0, math.sqrt(pixels / (width * height)))
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    if scale < 1.0 and image.format == "JPEG":
        image.draft(None, size)  # libjpeg decodes at 1/2, 1/4 or 1/8 scale, at least `size`
    decoded = image.width * image.height * _PIXEL_BYTES.get(image.mode, 4)
    if decoded > MAX_QUERY_DECODE_BYTES:
        raise InvalidInputError(
            f"{name} is {image.width}x{image.height} pixels in {image.mode} mode, which takes "
            f"{decoded / 1e6:.0f} MB to decode, over the limit of {MAX_QUERY_DECODE_BYTES / 1e6:.0f} MB. "
            "Resize it (e.g. to 4000 px on its longer side) or save it as JPEG, and try again."
        )
    if image.width * image.height <= pixels:
        return image
    if image.mode in {"PA", "LA", "La", "RGBa"}:  # modes that Lanczos resampling does not take
        image = image.convert("RGBA")
    resample = Image.Resampling.NEAREST if image.mode in {"1", "P"} else Image.Resampling.LANCZOS
    return image.resize(size, resample, reducing_gap=3.0)


#: Bytes per pixel that decoding and downscaling an image of each mode hold at once: PIL keeps 3-band
#: pixels in 4 bytes like 4-band ones, resamples transparent images through a premultiplied copy (PA
#: through an RGBA one first), and 16-bit ones in 32 bits.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 8, "RGBA": 8, "PA": 12}
_PIXEL_BYTES.update(dict.fromkeys(("I;16", "I;16B", "I;16L", "I;16N"), 6))

#: What a sketch layer may be: a decoded image or array, or an image file (path or bytes) to open safely.
SketchPart = Image.Image | np.ndarray | str | os.PathLike[str] | bytes


def sketch_to_image(sketch: SketchPart | Mapping[str, Any] | None) -> Image.Image | None:
    """Turn a drawing into an RGB image on white, or None when nothing was drawn.

    Accepts a Gradio ImageEditor/Sketchpad value (dict with `composite`, `background`, `layers`),
    a PIL image, an array, or an image file. Files are opened with `read_image`'s guards.
    "Nothing drawn" means every pixel is the background colour.

    Raises:
        InvalidInputError: a file that is not a usable image (see `read_image`).
    """
    if sketch is None:
        return None
    if isinstance(sketch, Mapping):
        composite = _as_image(sketch.get("composite"))
        if composite is None:
            layers = [_as_image(layer) for layer in sketch.get("layers") or [] if layer is not None]
            background = _as_image(sketch.get("background"))
            if background is None and not layers:
                return None
            composite = _flatten(background, layers)
        sketch = composite
    rgb = to_rgb(_as_image(sketch))  # type: ignore[arg-type]
    pixels = np.asarray(rgb)
    if (pixels == pixels.reshape(-1, 3)[0]).all():
        return None
    return crop_to_drawing(rgb)


def _as_image(part: SketchPart | None) -> Image.Image | None:
    if part is None or isinstance(part, Image.Image):
        return part
    if isinstance(part, np.ndarray):
        return Image.fromarray(part)
    return read_image(part, reduce_to=QUERY_PIXELS)


def _flatten(background: Image.Image | None, layers: list[Image.Image]) -> Image.Image:
    base = background if background is not None else Image.new("RGBA", layers[0].size, WHITE_RGBA)
    canvas = base.convert("RGBA")
    for layer in layers:
        canvas = Image.alpha_composite(canvas, layer.convert("RGBA").resize(canvas.size))
    return canvas


def crop_to_drawing(image: Image.Image, margin: float = 0.08) -> Image.Image:
    """Crop a drawing on white to a square around its strokes, with a small margin.

    A small sketch in a corner of an 800x800 canvas otherwise becomes a few pixels at 224x224.
    """
    dark = np.asarray(image.convert("L")) < 250
    rows, columns = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    if len(columns) == 0:
        return image
    left, right, top, bottom = columns[0], columns[-1] + 1, rows[0], rows[-1] + 1
    width, height = right - left, bottom - top
    side = int(max(width, height) * (1 + 2 * margin)) + 1
    canvas = Image.new("RGB", (side, side), WHITE)
    canvas.paste(image.crop((left, top, right, bottom)), ((side - width) // 2, (side - height) // 2))
    return canvas
