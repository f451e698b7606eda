"""Inputs that check what a request sends before Gradio keeps it, image inputs that hand the uploaded
file to the core unopened, and dropdowns open to new values.

Gradio's own image preprocessing opens and decodes every upload before the handler runs. A file that is
not an image, a truncated JPEG or a decompression bomb then fails inside Gradio with an unexplained
"Error"; an oversized image is decoded in full before any size check; transparency turns black and
16-bit images are clipped. These inputs pass on the uploaded file instead: Gradio has already checked
that it is a file this session uploaded (never a path the request names), and `core.images` opens it
with its size guards and clear messages.

Before any handler, Gradio validates each API payload against the component's data model and then
stores it in the session's state, where it stays for as long as the session does: a 20 MB query sent
once would stay resident. `guarded` runs a check at that validation step, so a payload of the wrong
type, shape or size is refused with a clear `gr.Error` before it is stored or preprocessed (Gradio's own
failures there, on a string for a slider or a number for an image, say only "error").

They are the stock components with one attribute replaced on the instance: a subclass would make
Gradio write a `.pyi` stub next to this module each time it is imported.
"""

from __future__ import annotations

import base64
import binascii
import math
import types
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr
import pydantic
from gradio.data_classes import FileData

from core.errors import SiglipProjectsError
from core.images import MAX_IMAGE_BYTES
from core.limits import (
    MAX_LABELS,
    MAX_LABELS_FIELD_CHARS,
    MAX_TEMPLATE_CHARS,
    MAX_TEXT_CHARS,
    check_query,
    check_text,
    quote,
)
from core.zeroshot import check_labels_field, check_template

#: Largest image sent inline as a `data:` URL instead of being uploaded as a file (the browser and
#: gradio_client always upload files): it is held in the session's state like any other payload.
MAX_DATA_URL_CHARS = 256 * 1024
#: Longest name (of an index, of a result's file) a request may send.
MAX_NAME_CHARS = 500
_FILE_DATA = "an uploaded image file (FileData, as gradio_client's handle_file makes it)"
_EDITOR_DATA = (
    'a drawing: {"background", "layers", "composite"}, each an uploaded image file (or None), '
    "as gradio_client's handle_file makes them"
)

Component = TypeVar("Component", bound=gr.components.Component)


def guarded(component: Component, check: Callable[[Any], object], expected: str = "") -> Component:
    """`component`, checking each payload a request sends with `check` before Gradio stores it.

    Args:
        component: Any input component.
        check: Called with the JSON payload (never None); raises `SiglipProjectsError` or `gr.Error`
            with the message to show. Its return value is ignored.
        expected: What a payload must look like, for the message when it does not fit the component's
            own data model (images and drawings).

    Returns:
        The component, whose data model is replaced on the instance by a subclass of the same name (or
        a stand-in, for components without one): the API schema that clients read is unchanged.
    """
    model = component.data_model

    def model_validate(cls: type, obj: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            check(obj)
            return obj if model is None else model.model_validate(obj, *args, **kwargs)
        except SiglipProjectsError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except pydantic.ValidationError:
            raise gr.Error(
                f"The input must be {expected}; got {quote(obj)}.", print_exception=False
            ) from None

    namespace = {"model_validate": classmethod(model_validate), "__module__": __name__}
    bases = (model,) if model is not None else ()
    checked = type(model.__name__ if model is not None else "CheckedPayload", bases, namespace)
    component.data_model = checked  # type: ignore[assignment]
    return component


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
    return guarded(image, _check_data_url, _FILE_DATA)


def sketch_upload(**kwargs: Any) -> gr.Sketchpad:
    """A `gr.Sketchpad` whose handler value holds the canvas files (paths, or bytes of canvas blobs),
    not yet opened: `{"background", "layers", "composite"}` as `core.images.sketch_to_image` reads it."""
    sketch = gr.Sketchpad(type="filepath", **kwargs)
    sketch.convert_and_format_image = types.MethodType(_unopened_canvas, sketch)  # type: ignore[method-assign]
    return guarded(sketch, _check_editor_data_urls, _EDITOR_DATA)


def number_slider(minimum: float, maximum: float, **kwargs: Any) -> gr.Slider:
    """A `gr.Slider` that refuses, with a clear `gr.Error`, any payload that is not a finite number
    (Gradio's own check fails on strings and lists with an unexplained error, and lets NaN through;
    it still checks the range)."""
    what = kwargs.get("label") or "The value"

    def check(payload: Any) -> None:
        number = isinstance(payload, (int, float)) and not isinstance(payload, bool)
        if not number or not _finite(payload):
            raise gr.Error(
                f"{what} must be a number from {minimum:g} to {maximum:g}, got {quote(payload)}.",
                print_exception=False,
            )

    slider = guarded(gr.Slider(minimum, maximum, **kwargs), check)
    check_bounds = slider.preprocess

    def preprocess(self: gr.Slider, payload: Any) -> float:
        check(payload)  # None skips the data-model step
        return check_bounds(payload)

    slider.preprocess = types.MethodType(preprocess, slider)  # type: ignore[method-assign]
    return slider


def labels_input(**kwargs: Any) -> gr.Textbox:
    """The comma-separated labels field of the zero-shot tabs, bounded in size."""
    textbox = gr.Textbox(info=f"Up to {MAX_LABELS} labels.", max_length=MAX_LABELS_FIELD_CHARS, **kwargs)
    return guarded(textbox, check_labels_field)


def query_input(**kwargs: Any) -> gr.Textbox:
    """A text query field (a description, texts to leave out), bounded to `MAX_TEXT_CHARS`."""
    return guarded(gr.Textbox(max_length=MAX_TEXT_CHARS, **kwargs), check_query)


def short_text(component: Component, what: str, limit: int = MAX_NAME_CHARS) -> Component:
    """`component` (a name field, a dropdown of names), refusing payloads that are not text of at most
    `limit` characters before Gradio keeps them (the handler checks the name itself)."""
    return guarded(component, lambda payload: check_text(payload, what, limit))


def template_input(**kwargs: Any) -> gr.Textbox:
    """The template field of the zero-shot tabs: one bare `{}` (see `core.zeroshot.check_template`)."""
    return guarded(gr.Textbox(label="Template", max_length=MAX_TEMPLATE_CHARS, **kwargs), check_template)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int beyond float range: JSON allows any number of digits
        return False


def _check_data_url(payload: Any) -> None:
    url = payload.get("url") if isinstance(payload, dict) else None
    if isinstance(url, str) and url.startswith("data:") and len(url) > MAX_DATA_URL_CHARS:
        raise gr.Error(
            f"The inline image is {len(url):,} characters of base64, over the limit of "
            f"{MAX_DATA_URL_CHARS:,}. Upload it as a file instead (gradio_client: handle_file(path)).",
            print_exception=False,
        )


def _check_editor_data_urls(payload: Any) -> None:
    if isinstance(payload, dict):
        layers = payload.get("layers")
        parts = [payload.get("background"), payload.get("composite")]
        for part in parts + (layers[:16] if isinstance(layers, list) else []):
            _check_data_url(part)


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
            f"The image is over the limit of {MAX_IMAGE_BYTES / 2**20:.0f} MB. Use a smaller file.",
            print_exception=False,
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        message = "The image data is not valid base64. Upload the file again."
        raise gr.Error(message, print_exception=False) from None


def upload_files(**kwargs: Any) -> gr.File:
    """A multiple-file upload of images and zips; a payload that is not a list of uploaded files is
    refused with a clear message before Gradio looks at it."""
    files = gr.File(
        file_count="multiple",
        file_types=["image", ".zip", ".csv", ".jsonl"],
        type="filepath",
        height=260,
        **kwargs,
    )

    def check(payload: object) -> None:
        if not isinstance(payload, list):
            raise gr.Error(
                f"Files must be a list of uploaded files (gradio_client: [handle_file(path), ...]); got "
                f"{quote(payload)}.",
                print_exception=False,
            )

    return guarded(files, check, "a list of uploaded files")
