"""Image conversion and safe opening: every mode reaches the model as 8-bit RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from apps.examples import photo
from core.errors import InvalidInputError
from core.images import QUERY_PIXELS, crop_to_drawing, open_image, open_query_image, sketch_to_image, to_rgb


def _bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "YCbCr", "LA", "RGBA", "I;16", "I", "F", "RGB"])
def test_every_mode_becomes_rgb(mode):
    image = Image.new("RGB", (20, 10), (200, 30, 60)).convert(mode)
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and rgb.size == (20, 10)


def test_transparency_becomes_white():
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    pixels = np.asarray(to_rgb(image))
    assert tuple(pixels[0, 0]) == (255, 0, 0)
    assert tuple(pixels[3, 3]) == (255, 255, 255)


def test_sixteen_bit_images_use_their_range():
    ramp = np.linspace(1000, 3000, 64, dtype=np.uint16).reshape(8, 8)
    rgb = np.asarray(to_rgb(Image.fromarray(ramp)))
    assert rgb.min() == 0 and rgb.max() == 255  # not the all-white that a plain convert("L") gives


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    data = _bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])
    first = np.asarray(open_image(data))
    assert first[0, 0, 0] > 200 and first[0, 0, 2] < 50


def test_one_pixel_image_is_accepted():
    assert open_image(_bytes(Image.new("RGB", (1, 1), "red"), "PNG")).size == (1, 1)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _bytes(Image.new("1", (20000, 20000)), "PNG")
    with pytest.raises(InvalidInputError, match="pixels"):
        open_image(bomb)
    big = _bytes(Image.new("1", (9000, 8000)), "PNG")  # under PIL's own limit, over ours
    with pytest.raises(InvalidInputError, match="9000x8000"):
        open_image(big)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4 this is not an image", "could not be read as an image"),
        (_bytes(Image.new("RGB", (64, 64), "blue"), "JPEG")[:200], "could not be read as an image"),
    ],
)
def test_non_images_and_truncated_files_are_clear_errors(data, message):
    with pytest.raises(InvalidInputError, match=message):
        open_image(data)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "green")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    assert open_image(_bytes(image, "JPEG", exif=exif)).size == (20, 40)


def test_empty_sketch_is_none():
    white = np.full((80, 80, 4), 255, dtype=np.uint8)
    assert sketch_to_image(None) is None
    assert sketch_to_image({"background": white, "layers": [], "composite": white}) is None


def test_sketch_is_cropped_to_its_strokes_on_white():
    canvas = np.full((200, 200, 4), 255, dtype=np.uint8)
    canvas[150:170, 20:60, :3] = 0  # a small stroke in a corner
    image = sketch_to_image({"background": None, "layers": [], "composite": canvas})
    assert image is not None and image.mode == "RGB"
    assert image.width == image.height < 80  # zoomed on the stroke, not the whole canvas
    pixels = np.asarray(image)
    assert (pixels[0] == 255).all() and (pixels[:, 0] == 255).all()  # white margin
    assert (pixels == 0).any()


def test_sketch_from_layers_without_composite():
    background = np.full((50, 50, 4), 255, dtype=np.uint8)
    layer = np.zeros((50, 50, 4), dtype=np.uint8)
    layer[10:20, 10:20] = (0, 0, 0, 255)
    assert sketch_to_image({"background": background, "layers": [layer], "composite": None}) is not None


def test_crop_keeps_a_drawing_that_fills_the_canvas():
    image = Image.new("RGB", (100, 60), "black")
    assert crop_to_drawing(image).size[0] >= 100


# --------------------------------------------------------------------------------------------------
# Images sent with a request: decoded and kept within bounds


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1", "LA", "I;16", "CMYK"])
def test_a_large_query_image_keeps_its_aspect_ratio_within_the_pixel_bound(mode):
    image = Image.new("RGB", (3000, 2000), (200, 30, 60)).convert(mode)
    fmt = "JPEG" if mode in ("CMYK", "L") else ("TIFF" if mode == "LA" else "PNG")
    reduced = open_query_image(_bytes(image, fmt))
    assert reduced.mode == "RGB" and reduced.width * reduced.height <= QUERY_PIXELS
    assert abs(reduced.width / reduced.height - 1.5) < 0.01 and reduced.width >= 2000


def test_a_query_image_within_the_bound_is_exactly_what_open_image_gives():
    rng = np.random.default_rng(0)
    data = _bytes(Image.fromarray(rng.integers(0, 255, (1500, 2000, 3), dtype=np.uint8)), "PNG")
    assert np.array_equal(np.asarray(open_query_image(data)), np.asarray(open_image(data)))


def test_a_reduced_query_image_still_turns_by_its_exif_orientation():
    image = Image.new("RGB", (4000, 2000), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    reduced = open_query_image(_bytes(image, "JPEG", exif=exif))
    assert reduced.height > reduced.width


def test_a_query_image_too_large_to_decode_is_refused_with_its_size():
    image = Image.new("RGB", (6000, 5000), "white")  # 30 Mpx: 120 MB in memory, a small PNG file
    with pytest.raises(
        InvalidInputError, match=r"6000x5000 pixels in RGB mode, which takes 120 MB to decode"
    ):
        open_query_image(_bytes(image, "PNG"))
    assert open_query_image(_bytes(image, "JPEG")).size == (2243, 1869)  # JPEGs decode at a reduced scale


def test_scores_on_a_reduced_image_agree_with_the_pipeline_on_the_whole_image(tiny_models, tmp_path):
    from transformers import pipeline

    from core.zeroshot import classify

    big = Image.open(photo("cat.jpg")).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    big.save(tmp_path / "big.png")
    labels = ["a cat", "a dog", "a red car", "猫"]
    for key in ("siglip", "clip"):
        classifier = pipeline("zero-shot-image-classification", model=tiny_models[key], device="cpu")
        expected = {row["label"]: row["score"] for row in classifier(big, candidate_labels=labels)}
        got = classify(
            open_query_image(tmp_path / "big.png"), labels, model=key, template="This is a photo of {}."
        )
        assert max(abs(row["score"] - expected[row["label"]]) for row in got) < 1e-3


@pytest.mark.parametrize("kind", ["PCX", "TGA", "ICO", "PPM"])
def test_only_the_formats_the_app_names_are_parsed_whatever_the_file_is_called(tmp_path, kind):
    path = tmp_path / "photo.png"
    Image.new("RGB", (16, 16), "red").save(path, format=kind)
    assert Image.open(path).format == kind  # PIL itself would read it
    with pytest.raises(InvalidInputError, match="not in a format this app reads"):
        open_query_image(path)
