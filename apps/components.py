"""Image inputs that hand the uploaded file to the core unopened, and dropdowns open to new values.

Gradio's own image preprocessing opens and decodes every upload before the handler runs. A file that is
not an image, a truncated JPEG or a decompression bomb then fails inside Gradio with an unexplained
"Error"; an oversized image is decoded in full before any size check; transparency turns black and
16-bit images are clipped. These inputs pass on the uploaded file instead: Gradio has already checked
that it is a file this session uploaded (never a path the request names), and `core.images` opens it
with its size guards and clear messages.

They are the stock components with one method replaced on the instance: a subclass would make Gradio
write a `.pyi` stub next to this module each time it is imported.
"""

from __future__ import annotations

import base64
import binascii
import types
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from core.images import MAX_IMAGE_BYTES


def open_dropdown(**kwargs: Any) -> gr.Dropdown:
    """A `gr.Dropdown` that also takes values outside its choices, and says so in the API schema.

    Its choices (index names, models with an index, filter values) grow after start-up, and the
    handler checks the value. Gradio's schema would list the start-up choices as the only allowed
    values (an `enum`), which MCP clients enforce, so new indexes could not be named.
    """
    dropdown = gr.Dropdown(allow_custom_value=True, **kwargs)
    dropdown.api_info = types.MethodType(_open_api_info, dropdown)  # type: ignore[method-assign]
    return dropdown


def _open_api_info(self: gr.Dropdown) -> dict[str, Any]:
    if self.multiselect:
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}


def image_upload(**kwargs: Any) -> gr.Image:
    """A `gr.Image` whose handler value is the uploaded file's path (or its bytes), not yet opened."""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = types.MethodType(_unopened_image, image)  # type: ignore[method-assign]
    return image


def sketch_upload(**kwargs: Any) -> gr.Sketchpad:
    """A `gr.Sketchpad` whose handler value holds the canvas files (paths, or bytes of canvas blobs),
    not yet opened: `{"background", "layers", "composite"}` as `core.images.sketch_to_image` reads it."""
    sketch = gr.Sketchpad(type="filepath", **kwargs)
    sketch.convert_and_format_image = types.MethodType(_unopened_canvas, sketch)  # type: ignore[method-assign]
    return sketch


def _unopened_image(self: gr.Image, payload: Any) -> str | bytes | None:  # payload: ImageData | None
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        return data_url_bytes(payload.url)
    if payload.path is None:
        raise gr.Error("The image did not reach the server. Upload it again.", print_exception=False)
    return str(payload.path)


def _unopened_canvas(
    self: gr.Sketchpad, file: FileData | bytes | None, flatten_on_white: bool = False
) -> str | bytes | None:
    if file is None:
        return None
    if isinstance(file, FileData):
        return str(file.path)
    return bytes(file)


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 `data:` URL, refusing more than an upload may hold.

    Raises:
        gr.Error: not base64, or too large.
    """
    _, _, encoded = url.partition(",")
    if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES:
        raise gr.Error(
            f"The image is over the limit of {MAX_IMAGE_BYTES / 1e6:.0f} MB. Use a smaller file.",
            print_exception=False,
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        message = "The image data is not valid base64. Upload the file again."
        raise gr.Error(message, print_exception=False) from None
