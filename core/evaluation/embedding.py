"""Embedding for evaluation: the one module that uses the index builder's image path and the encoders'
fast-path members, so that a change there touches only this file.

Images take the batched fast path of index builds: JPEGs decoded in draft mode at the smallest scale
that covers the model's input, the model's own picklable preprocessing (in decode worker processes
beside a GPU), then one forward per batch of preprocessed pixels, while a reader thread prepares the
next batch. Class prompts go through the zero-shot label cache, so repeated runs skip the text tower.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from core.config import Settings
from core.encoders import Encoder, get_encoder
from core.encoders.budget import model_bytes
from core.encoders.runtimes import RuntimeChoice
from core.errors import ModelLoadError
from core.evaluation.data import ImageRef
from core.index.build.decode import ImageLoader, LoadedImage, resolve_workers
from core.index.build.embedder import Embedder
from core.index.build.options import EmbedOptions
from core.index.build.reader import prefetch
from core.index.format.layout import Kind
from core.index.format.thumbnails import THUMBNAIL_SIZE
from core.index.sources import Item
from core.vectors import normalize
from core.zeroshot import label_cache

#: Called with the number of items done so far.
Advance = Callable[[int], None]
#: Class prompts embedded per call (an ensemble of 80 prompts x 1,000 classes is 80,000 texts).
TEXT_CHUNK = 256
T = TypeVar("T")


def load_encoder(key: str, settings: Settings) -> Encoder:
    """The encoder an evaluation run uses for model `key`: a bulk use, like an index build (with
    `precision=auto`, bf16 where the hardware computes it natively), loaded once and cached."""
    return get_encoder(key, settings, bulk=True)


def _item(position: int, ref: ImageRef) -> Item:
    return Item(str(position), "", ref.name, {}, path=str(ref.path) if ref.path else None, data=ref.data)


def embed_images(
    encoder: Encoder,
    images: Sequence[ImageRef],
    batch_size: int,
    advance: Advance | None = None,
    runtime: EmbedOptions | None = None,
) -> tuple[np.ndarray, dict[int, str], RuntimeChoice | None]:
    """Embed `images` in order, skipping those that cannot be read.

    `runtime`: the image runtime and precision setting, as an index build takes them (default:
    "auto", measured on the first batch, see `core.encoders.runtimes`).

    Returns:
        (vectors, skipped, runtime): (n, D) float32 L2-normalised rows for the images that were read,
        in order; {position in `images`: reason} for the others; the image runtime that embedded them
        and why (None when no image could be read).

    Raises:
        ModelLoadError: the model failed on every image of a batch (the model is at fault).
    """
    embedder = Embedder(encoder, Kind.IMAGE, runtime)
    embedder.images = len(images)
    skipped: dict[int, str] = {}
    parts: list[np.ndarray] = []
    done = 0
    # The build's thumbnail size sets how far JPEGs are draft-decoded: the same as an index build, so
    # the vectors are those an index of the images holds (the thumbnails themselves go unused).
    workers = resolve_workers("auto", encoder.device)
    with ImageLoader(encoder, thumbnail_size=THUMBNAIL_SIZE, workers=workers) as loader:

        def batches() -> Iterator[list[tuple[int, LoadedImage | str]]]:
            loaded = loader.load_all(_item(n, ref) for n, ref in enumerate(images))
            yield from _chunks(enumerate(loaded), batch_size)

        for batch in prefetch(batches):
            readable = [(n, loaded) for n, loaded in batch if isinstance(loaded, LoadedImage)]
            skipped.update((n, loaded) for n, loaded in batch if isinstance(loaded, str))
            if readable:
                payloads = [item.pixels if item.pixels is not None else item.image for _, item in readable]
                try:
                    vectors, failed = embedder.embed(payloads)
                except Exception as error:  # every image of the batch failed: skip this model only
                    reason = " ".join(str(error).split())[:200]
                    raise ModelLoadError(f"{encoder.spec.name} could not embed images ({reason}).") from error
                skipped.update((readable[k][0], reason) for k, reason in failed.items())
                parts.append(vectors)
            done += len(batch)
            if advance is not None:
                advance(done)
    vectors = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)
    return np.ascontiguousarray(vectors, dtype=np.float32), dict(sorted(skipped.items())), embedder.choice


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def embed_classes(
    encoder: Encoder,
    classes: Sequence[str],
    templates: Sequence[str],
    language: str | None,
    advance: Advance | None = None,
) -> np.ndarray:
    """One vector per class: its prompts embedded (through the label cache), averaged, re-normalised
    (CLIP's prompt ensembling; with one template, simply that prompt's embedding).

    Returns:
        (C, D) float32, rows L2-normalised.
    """
    texts = [template.format(name) for name in classes for template in templates]
    parts = []
    for start in range(0, len(texts), TEXT_CHUNK):
        parts.append(label_cache.embed(encoder, texts[start : start + TEXT_CHUNK], language))
        if advance is not None:
            advance(start + len(parts[-1]))
    vectors = np.concatenate(parts).reshape(len(classes), len(templates), -1)
    return normalize(normalize(vectors).mean(axis=1))


def embed_captions(
    encoder: Encoder, captions: Sequence[str], language: str | None, batch_size: int, advance: Advance | None
) -> np.ndarray:
    """(T, D) float32 normalised caption embeddings (not cached: captions are seldom seen twice)."""
    progress = (lambda done, _total: advance(done)) if advance is not None else None
    return encoder.embed_texts(captions, language=language, batch_size=batch_size, progress=progress)


def class_scores(encoder: Encoder, image_vectors: np.ndarray, class_vectors: np.ndarray) -> np.ndarray:
    """(N, C) zero-shot scores, as `core.zeroshot.classify` gives them: sigmoid per class for SigLIP-type
    models, softmax over the classes for CLIP-type ones."""
    if len(image_vectors) == 0:
        return np.zeros((0, len(class_vectors)), np.float32)
    return np.stack([encoder.scores(vector, class_vectors) for vector in image_vectors])


def is_sigmoid(encoder: Encoder) -> bool:
    """True for models whose scores are independent per class (so an image can match none of them)."""
    return encoder.spec.scoring == "sigmoid"


def describe(encoder: Encoder) -> dict[str, Any]:
    """What a report records about the loaded model: its checkpoint, device, precision and the memory
    its weights take (MB, as the loaded-models budget counts it)."""
    return {
        "model_id": encoder.model_id,
        "device": encoder.device,
        "dtype": str(encoder.dtype).split(".")[-1],
        "memory_mb": round(model_bytes(encoder) / 2**20, 1),
    }


def machine(devices: Iterable[str]) -> str:
    """The machine the figures were measured on, in words: the CPU (model and cores), and the GPU of
    each CUDA device used."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:  # not Linux
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores"]
    for device in sorted(set(devices)):
        if device.startswith("cuda"):
            import torch

            parts.append(torch.cuda.get_device_name(torch.device(device)))
    return "; ".join(parts)
