"""Embedding for evaluation: the one module that uses the index builder's image path and the encoders'
fast-path members, so that a change there touches only this file.

Images take the batched fast path of index builds: JPEGs decoded in draft mode at the smallest scale
that covers the model's input, the model's own picklable preprocessing (in decode worker processes
beside a GPU), then one forward per batch of preprocessed pixels, while a reader thread prepares the
next batch. Class prompts go through the zero-shot label cache, so repeated runs skip the text tower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import numpy as np

from core.config import Settings
from core.encoders import Encoder, get_encoder
from core.encoders.base import collate, normalize
from core.errors import ModelLoadError
from core.evaluation.data import ImageRef
from core.images import open_image
from core.index.build import THUMBNAIL_SIZE
from core.index.loader import ImageLoader, LoadedImage, resolve_workers
from core.zeroshot import label_cache

log = logging.getLogger(__name__)

#: Called with the number of items done so far.
Advance = Callable[[int], None]
#: Class prompts embedded per call (an ensemble of 80 prompts x 1,000 classes is 80,000 texts).
TEXT_CHUNK = 256
T = TypeVar("T")


def load_encoder(key: str, settings: Settings) -> Encoder:
    """The encoder an evaluation run uses for model `key` (loaded once per process and cached)."""
    return get_encoder(key, settings)


def embed_images(
    encoder: Encoder, images: Sequence[ImageRef], batch_size: int, advance: Advance | None = None
) -> tuple[np.ndarray, dict[int, str]]:
    """Embed `images` in order, skipping those that cannot be read.

    Returns:
        (vectors, skipped): (n, D) float32 L2-normalised rows for the images that were read, in order,
        and {position in `images`: reason} for the others.
    """
    skipped: dict[int, str] = {}
    wanted = []
    for position, ref in enumerate(images):
        if ref.path is None and ref.data is None:
            skipped[position] = "the row has no image"
        else:
            wanted.append(position)
    parts: list[np.ndarray] = []
    done = len(skipped)
    workers = resolve_workers("auto", encoder.device)
    # The build's thumbnail size sets how far JPEGs are draft-decoded: the same as an index build, so
    # the vectors are those an index of the images holds (the thumbnails themselves go unused).
    with ImageLoader(encoder, thumbnail_size=THUMBNAIL_SIZE, workers=workers) as loader:
        loads = (partial(open_image, images[n].path or images[n].data) for n in wanted)
        results = zip(wanted, loader.load_all(loads), strict=True)
        for batch in prefetch(_chunks(results, batch_size)):
            readable = [(n, loaded) for n, loaded in batch if isinstance(loaded, LoadedImage)]
            skipped.update((n, loaded) for n, loaded in batch if isinstance(loaded, str))
            if readable:
                vectors, failed = _embed_batch(encoder, [loaded for _, loaded in readable])
                skipped.update((readable[k][0], reason) for k, reason in failed.items())
                parts.append(vectors)
            done += len(batch)
            if advance is not None:
                advance(done)
    vectors = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)
    return np.ascontiguousarray(vectors, dtype=np.float32), dict(sorted(skipped.items()))


def _embed_batch(encoder: Encoder, loaded: list[LoadedImage]) -> tuple[np.ndarray, dict[int, str]]:
    """Embed one batch; if the model fails on it, embed one by one and skip the images that fail."""
    try:
        return _forward(encoder, loaded), {}
    except Exception as error:  # a model error on one odd image must not stop the run
        if len(loaded) == 1:
            return np.zeros((0, encoder.dim), np.float32), {0: _failure(error)}
        log.warning("Batch failed (%s); embedding its images one by one", error)
    rows, failed = [], {}
    for k, item in enumerate(loaded):
        try:
            rows.append(_forward(encoder, [item]))
        except Exception as error:
            failed[k] = _failure(error)
    if not rows:
        # Every image of the batch fails: the model, not the data, is at fault (this model is skipped).
        raise ModelLoadError(f"{encoder.spec.name} could not embed images: {next(iter(failed.values()))}")
    return np.concatenate(rows), failed


def _forward(encoder: Encoder, loaded: list[LoadedImage]) -> np.ndarray:
    if loaded[0].pixels is not None:
        return encoder.embed_pixels(collate([item.pixels for item in loaded]))  # type: ignore[misc]
    return encoder.embed_images([item.image for item in loaded], batch_size=len(loaded))  # type: ignore[misc]


def _failure(error: Exception) -> str:
    return f"the model could not embed it ({type(error).__name__}: {' '.join(str(error).split())[:200]})"


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def prefetch(items: Iterator[T]) -> Iterator[T]:
    """Produce the next item in a reader thread while the caller works on this one (the model releases
    the GIL, so decoding overlaps the forward pass). Errors of the reader re-raise here."""
    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix="eval-reader") as reader:
        pending = reader.submit(next, items, end)
        while (item := pending.result()) is not end:
            pending = reader.submit(next, items, end)
            yield item  # type: ignore[misc]


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
    """What a report records about the loaded model: its checkpoint, device and precision."""
    return {
        "model_id": encoder.model_id,
        "device": encoder.device,
        "dtype": str(encoder.dtype).split(".")[-1],
    }
