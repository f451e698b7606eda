"""Every fast embedding path against the fp32 reference path (`Encoder.embed_images` on a full decode).

Fast paths: per-image preprocessing joined into batches (`fast_path.preprocess` + `collate` +
`fast_path.embed`), JPEG draft-mode decoding, decode worker processes, bf16, and the GPU build's path
(batched `decode_jpeg` + `fast_path.tensor_preprocess`), which runs here on the CPU.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.encoders import get_encoder
from core.encoders.base import collate
from core.errors import InvalidInputError
from core.images import open_image
from core.index import BuildOptions, FolderSource, Item, build_index, load_index
from core.index.build.decode import ImageLoader, draft_decode, encoded_jpeg, resolve_workers
from core.index.build.gpu_decode import decode_jpegs_to_pixels, upright
from tests.core.index.conftest import make_image

KEYS = ["siglip", "siglip2", "siglip2-naflex", "siglip-multilingual", "clip", "nllb-clip", "mclip"]
#: Large enough for draft mode to decode at 1/4 scale for a 32-pixel model and 64-pixel thumbnails.
PHOTO_SIZE = (400, 300)


def _file_item(path) -> Item:
    """An image item of a file, as a folder source makes it."""
    return Item(str(path), "", str(path), {}, path=str(path))


def _photos(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"photo{seed}.jpg"
        make_image(seed, PHOTO_SIZE).save(path, quality=92)
        paths.append(path)
    return paths


def _min_cosine(fast: np.ndarray, reference: np.ndarray) -> float:
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    return float((fast * reference).sum(axis=1).min())


@pytest.fixture(scope="module")
def fp32(tiny_models) -> Settings:
    return Settings.from_env().with_(precision="fp32")


@pytest.mark.parametrize("key", KEYS)
def test_pixels_path_equals_embed_images(key, fp32):
    encoder = get_encoder(key, fp32)
    images = [make_image(seed, (60 + 20 * seed, 45)) for seed in range(3)]
    path = encoder.fast_path
    if path is None:  # sentence-transformers embeds PIL images itself
        assert key == "mclip"
        return
    one_by_one = collate([path.preprocess([image]) for image in images])
    np.testing.assert_allclose(path.embed(one_by_one), encoder.embed_images(images), atol=1e-6)


@pytest.mark.parametrize("key", KEYS)
def test_tensor_preprocessing_agrees_with_pil(key, fp32):
    import torch
    from torchvision.io import decode_jpeg

    encoder = get_encoder(key, fp32)
    preprocess = encoder.fast_path.tensor_preprocess if encoder.fast_path else None
    if preprocess is None:  # NaFlex (variable size) and sentence-transformers
        assert key in ("siglip2-naflex", "mclip")
        return
    files = []
    for seed in range(3):
        buffer = io.BytesIO()
        make_image(seed, (90 + 30 * seed, 70)).save(buffer, "JPEG", quality=95)
        files.append(buffer.getvalue())
    tensors = [decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8)) for data in files]
    reference = encoder.embed_images([open_image(data) for data in files])
    assert _min_cosine(encoder.fast_path.embed(preprocess(tensors)), reference) >= 0.999


def test_draft_decode_is_smaller_and_close_to_a_full_decode(fp32, tmp_path):
    encoder = get_encoder("siglip", fp32)
    paths = _photos(tmp_path)

    assert ImageLoader(encoder, thumbnail_size=64).draft_size == 64  # max(model input 32, thumbnail)
    assert draft_decode(Item("row:0", "", "row 0", {}), 64) is None  # no file: open_item says why

    image, full = draft_decode(_file_item(paths[0]), 64)
    assert full == PHOTO_SIZE and image.size == (100, 75)  # 1/4 scale: both sides still >= 64
    draft = encoder.embed_images([draft_decode(_file_item(p), 64)[0] for p in paths])
    reference = encoder.embed_images([open_image(p) for p in paths])
    assert _min_cosine(draft, reference) >= 0.999


def test_loader_in_a_worker_process_equals_inline(fp32, tmp_path):

    encoder = get_encoder("siglip", fp32)
    paths = _photos(tmp_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    loads = [_file_item(path) for path in [*paths, broken]]
    with ImageLoader(encoder, thumbnail_size=64) as inline:
        expected = list(inline.load_all(loads))
    with ImageLoader(encoder, thumbnail_size=64, workers=1) as pooled:
        got = list(pooled.load_all(loads))
    assert isinstance(got[-1], str) and got[-1] == expected[-1]  # skipped, with open_image's reason
    for a, b in zip(got[:-1], expected[:-1], strict=True):
        assert (a.width, a.height, a.thumbnail) == (*PHOTO_SIZE, b.thumbnail)
        np.testing.assert_array_equal(a.pixels["pixel_values"], b.pixels["pixel_values"])


def test_fast_build_agrees_with_the_seed_path(tiny_models, tmp_path):
    """Draft decode + per-image preprocessing + bf16 + a decode worker, end to end through the
    builder, against the seed's way: full decode and fp32 `embed_images`, one image at a time."""
    paths = _photos(tmp_path / "photos", 6)
    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=4)
    fast = settings.with_(precision="bf16")
    report = build_index(
        "fast",
        FolderSource(tmp_path / "photos"),
        BuildOptions(thumbnail_size=64, decode_workers=1),
        settings=fast,
    )
    assert report.embedded == 6 and report.skipped == ()
    index = load_index("fast", settings=fast)
    reference_encoder = get_encoder("siglip", settings)
    by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
    seed = np.concatenate([reference_encoder.embed_images([open_image(path)]) for path in paths])
    assert _min_cosine(np.stack([by_path[path.name] for path in paths]), seed) >= 0.999
    assert all((row["width"], row["height"]) == PHOTO_SIZE for row in index.rows)


def test_gpu_decode_path_runs_on_the_cpu(fp32, tmp_path):
    """The CUDA build path (batched decode_jpeg, thumbnails and preprocessing on tensors), forced on
    for the CPU: same embeddings as the reference within cosine 0.999, PNGs through PIL."""
    folder = tmp_path / "photos"
    paths = _photos(folder, 4)
    rotated = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    make_image(7, PHOTO_SIZE).save(rotated, quality=92, exif=exif)
    make_image(8, (50, 40)).save(folder / "drawing.png")
    settings = fp32.with_(index_dir=tmp_path / "indexes", batch_size=8)
    options = BuildOptions(thumbnail_size=64, jpeg_decode="torchvision")  # what CUDA picks by itself
    report = build_index("gpu", FolderSource(folder), options, settings=settings)
    assert report.embedded == 6
    index = load_index("gpu", settings=settings)
    encoder = get_encoder("siglip", settings)
    rows = {row["path"]: (row, vector) for row, vector in zip(index.rows, index.vectors(), strict=True)}
    everything = [*paths, rotated, folder / "drawing.png"]
    reference = encoder.embed_images([open_image(path) for path in everything])
    got = np.stack([rows[path.name][1] for path in everything])
    assert _min_cosine(got, reference) >= 0.999
    assert (rows["rotated.jpg"][0]["width"], rows["rotated.jpg"][0]["height"]) == PHOTO_SIZE[::-1]
    with Image.open(index.thumbnails_dir / Path(rows["photo0.jpg"][0]["_thumbnail"]).name) as thumbnail:
        assert thumbnail.size == (64, 48)

    files = [path.read_bytes() for path in paths[:2]]
    pixels, thumbnails, sizes = decode_jpegs_to_pixels(files, encoder, 64, device="cpu")
    assert pixels["pixel_values"].shape[0] == 2 and sizes == [PHOTO_SIZE, PHOTO_SIZE]
    assert all(Image.open(io.BytesIO(data)).size == (64, 48) for data in thumbnails)


def test_only_guarded_jpegs_take_the_fast_decoders(tmp_path):

    jpeg, png = tmp_path / "a.jpg", tmp_path / "b.png"
    make_image(1).save(jpeg)
    make_image(2).save(png)
    assert encoded_jpeg(_file_item(jpeg)) == jpeg.read_bytes()
    assert encoded_jpeg(Item("row:0", "", "row 0", {}, data=jpeg.read_bytes())) == jpeg.read_bytes()
    assert encoded_jpeg(_file_item(png)) is None
    assert encoded_jpeg(_file_item(tmp_path / "missing.jpg")) is None
    bomb = tmp_path / "bomb.jpg"
    Image.new("L", (9000, 8000)).save(bomb)  # over core.images.MAX_IMAGE_PIXELS
    assert encoded_jpeg(_file_item(bomb)) is None


def test_decode_workers_setting():
    assert resolve_workers("auto", "cpu") == 0
    assert 1 <= resolve_workers("auto", "cuda") <= 8
    assert resolve_workers(3, "cpu") == 3
    with pytest.raises(InvalidInputError, match="decode_workers"):
        resolve_workers("-1", "cpu")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_gpu_path_turns_images_upright_like_pil(orientation, fp32):
    import torch
    from torchvision.io import decode_jpeg

    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    make_image(orientation, (48, 30)).save(buffer, "JPEG", quality=95, exif=exif)
    expected = np.asarray(open_image(buffer.getvalue()))
    decoded = decode_jpeg(torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8))
    np.testing.assert_array_equal(upright(decoded, orientation).permute(1, 2, 0).numpy(), expected)


def test_int8_runtime_is_used_only_when_it_agrees_with_fp32(tiny_models, tmp_path, monkeypatch):
    """`image_runtime="onnx-int8"` on this CPU, whatever it is: int8 is used at cosine >= 0.999 to fp32,
    or torch is, with the note that says why. Which one happens depends on the CPU (see
    tests/core/test_cpu_runtimes.py for each outcome through its seam)."""
    from core.encoders import onnx_tower, runtimes

    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a fresh export
    paths = _photos(tmp_path / "photos", 4)
    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=4)
    reference = get_encoder("siglip", settings)
    seed = np.concatenate([reference.embed_images([open_image(path)]) for path in paths])
    int8_names = {q.name for q in onnx_tower.quantisations_for()}

    def build(name: str) -> tuple[object, np.ndarray]:
        report = build_index(
            name,
            FolderSource(tmp_path / "photos"),
            BuildOptions(thumbnail_size=64, image_runtime="onnx-int8"),
            settings=settings,
        )
        index = load_index(name, settings=settings)
        by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
        return report, np.stack([by_path[path.name] for path in paths])

    report, vectors = build("int8")
    (note,) = [note for note in report.notes if note.startswith("Images embedded with")]
    drafts = [draft_decode(_file_item(path), 64)[0] for path in paths]
    if any(f"with {name}:" in note for name in int8_names):
        assert _min_cosine(vectors, reference.embed_images(drafts)) >= 0.999  # int8 vs fp32, same pixels
        assert _min_cosine(vectors, seed) >= 0.998  # with draft decoding's own small change on top
    else:  # torch, and the note names the int8 variants it refused and their cosines
        assert "with torch-fp32: " in note and "refused: onnx-" in note, note
        assert _min_cosine(vectors, seed) >= 0.999
    assert list((tmp_path / "cache" / "siglip-projects" / "onnx").glob("*/image-tower-*.onnx"))

    monkeypatch.setattr(runtimes, "MIN_COSINE", 1.5)  # no int8 tower can agree this well
    report, vectors = build("refused")
    assert any("with torch-fp32: no runtime agrees" in note for note in report.notes), report.notes
    assert _min_cosine(vectors, seed) >= 0.999

    with pytest.raises(InvalidInputError, match="cannot run on ONNX Runtime"):
        build_index(
            "naflex",
            FolderSource(tmp_path / "photos"),
            BuildOptions(model_key="siglip2-naflex", image_runtime="onnx-int8"),
            settings=settings,
        )
    with pytest.raises(InvalidInputError, match="image_runtime"):
        build_index(
            "bad", FolderSource(tmp_path / "photos"), BuildOptions(image_runtime="tpu"), settings=settings
        )
