"""The app's inputs: checked payloads, with the API schema of the stock components.

End to end (through the served app): tests/reliability/test_request_limits.py and test_fuzz.py.
"""

from __future__ import annotations

import gradio as gr
import pytest

from apps.components import (
    MAX_DATA_URL_CHARS,
    guarded,
    image_upload,
    labels_input,
    number_slider,
    sketch_upload,
    template_input,
)
from core.limits import check_query


def both(factory, stock):
    with gr.Blocks():
        return factory(), stock()


#: (checked input, the stock component it replaces), by name.
PAIRS = {
    "image": (lambda: image_upload(label="I"), lambda: gr.Image(type="filepath", image_mode=None, label="I")),
    "sketch": (lambda: sketch_upload(label="D"), lambda: gr.Sketchpad(type="filepath", label="D")),
    "slider": (lambda: number_slider(1, 48, value=9, step=1), lambda: gr.Slider(1, 48, value=9, step=1)),
    "labels": (lambda: labels_input(label="L"), lambda: gr.Textbox(label="L")),
    "template": (lambda: template_input(value="{}"), lambda: gr.Textbox(label="Template", value="{}")),
    "dropdown": (
        lambda: guarded(gr.Dropdown(["a", "b"], allow_custom_value=True), str),
        lambda: gr.Dropdown(["a", "b"], allow_custom_value=True),
    ),
}


@pytest.mark.parametrize(("factory", "stock"), PAIRS.values(), ids=PAIRS.keys())
def test_the_checked_inputs_show_clients_the_stock_api(factory, stock):
    checked, plain = both(factory, stock)
    assert checked.api_info() == plain.api_info()
    assert checked.data_model is not plain.data_model


def validate(component, payload):
    return component.data_model.model_validate(payload)


def test_a_check_runs_before_gradio_keeps_the_payload_and_speaks_the_cores_message():
    with gr.Blocks():
        query = guarded(gr.Textbox(), check_query)
    assert validate(query, "a red disc") == "a red disc"
    with pytest.raises(gr.Error, match=r"The query is 3,000 characters long; at most 2,000"):
        validate(query, "x" * 3_000)
    with pytest.raises(gr.Error, match=r"The query must be text, got dict \{'a': 1\}"):
        validate(query, {"a": 1})


@pytest.mark.parametrize("payload", ["hello", 5, [1, 2], {"path": 5, "meta": {"_type": "gradio.FileData"}}])
def test_an_image_of_the_wrong_shape_says_what_an_image_must_be(payload):
    with gr.Blocks():
        image = image_upload()
    with pytest.raises(gr.Error, match=r"The input must be an uploaded image file \(FileData"):
        validate(image, payload)


def test_a_drawing_of_the_wrong_shape_says_what_a_drawing_must_be():
    with gr.Blocks():
        sketch = sketch_upload()
    assert validate(sketch, {"background": None, "layers": [], "composite": None}).composite is None
    with pytest.raises(
        gr.Error, match=r'The input must be a drawing: \{"background", "layers", "composite"\}'
    ):
        validate(sketch, {"composite": {"a": [1]}})


def test_inline_images_over_their_limit_are_refused_before_they_are_kept():
    url = "data:image/png;base64," + "A" * MAX_DATA_URL_CHARS
    with gr.Blocks():
        image, sketch = image_upload(), sketch_upload()
    with pytest.raises(gr.Error, match="Upload it as a file instead"):
        validate(image, {"path": None, "url": url, "meta": {"_type": "gradio.FileData"}})
    with pytest.raises(gr.Error, match="Upload it as a file instead"):
        validate(sketch, {"background": None, "layers": [{"path": None, "url": url}], "composite": None})


@pytest.mark.parametrize("payload", ["5", None, [3], True, float("nan"), float("inf"), 10**400])
def test_a_slider_refuses_anything_but_a_finite_number(payload):
    with gr.Blocks():
        slider = number_slider(1, 48, value=9, step=1, label="Results (k)")
    with pytest.raises(gr.Error, match=r"Results \(k\) must be a number from 1 to 48, got "):
        if payload is None:  # Gradio skips the data model for None: the slider's preprocess checks it
            slider.preprocess(payload)
        else:
            validate(slider, payload)


def test_a_slider_keeps_gradios_range_check():
    with gr.Blocks():
        slider = number_slider(1, 48, value=9, step=1, label="Results (k)")
    assert slider.preprocess(validate(slider, 5)) == 5
    with pytest.raises(gr.Error, match="greater than maximum value 48"):
        slider.preprocess(validate(slider, 49))
