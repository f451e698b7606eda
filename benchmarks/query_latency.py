"""Query path: end-to-end latency against one bare model forward, and the label-embedding cache.

    python -m benchmarks.query_latency

Each line prints the p50 of the app's path, the p50 of the baseline measured in the same run (the
two alternate call by call, so a busy machine slows both alike), and their ratio. Target: app path
<= 1.25x the bare forward; repeated labels >= 2x faster. The search lines go through
`core.index.searching.search` (embed the query, search the index, make the hits) on an index of
`INDEX_TEXTS` captions, the size of the default WikiArt index.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.common import machine, p50, siglip_base  # sets HF_HUB_OFFLINE first
from core.config import Settings
from core.encoders import get_encoder
from core.images import sketch_to_image
from core.index import (
    TextFileSource,
    build_index,
    load_index,
    search,
)
from core.zeroshot import classify, label_cache

#: Rows of the index searched by the search lines (the default WikiArt index holds 2,000).
INDEX_TEXTS = 2000

LABELS = ", ".join(
    ["cat", "dog", "car", "tree", "house", "person", "bicycle", "boat", "bird", "flower", "mountain", "beach"]
)


def report(name: str, ours: list[float], baseline: list[float], target: str) -> None:
    ours_ms, base_ms = p50(ours) * 1e3, p50(baseline) * 1e3
    print(f"{name:<46} {ours_ms:8.1f} ms  vs {base_ms:8.1f} ms  ratio {ours_ms / base_ms:5.2f}  ({target})")


def paired(ours: Callable[[], object], baseline: Callable[[], object], repeat: int = 7):
    """Wall times of `ours` and `baseline`, called alternately after one warm-up call each."""
    ours(), baseline()
    ours_times, baseline_times = [], []
    for _ in range(repeat):
        for function, times in ((ours, ours_times), (baseline, baseline_times)):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    return ours_times, baseline_times


def main() -> None:
    print(machine())
    index_dir = Path(tempfile.mkdtemp(prefix="query-latency-"))
    for precision in ("fp32", "bf16"):
        run(precision, index_dir)


def build_search_index(settings: Settings) -> None:
    """A text index of INDEX_TEXTS captions, built once (texts embed far faster than images)."""
    if (settings.index_dir / "captions" / "manifest.json").exists():
        return
    words = ["cat", "dog", "boat", "tree", "house", "river", "portrait", "city", "flower", "horse"]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, 6)) + f" {n}" for n in range(INDEX_TEXTS)]
    path = settings.index_dir.parent / f"{settings.index_dir.name}-captions.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    build_index("captions", TextFileSource(path), settings=settings.with_(precision="auto"))


def run(precision: str, index_dir: Path) -> None:
    folder = siglip_base()
    settings = Settings.from_env().with_(
        precision=precision, model_overrides={"siglip": str(folder)}, index_dir=index_dir
    )
    encoder = get_encoder("siglip", settings)
    model, processor = encoder.model, encoder.processor
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    canvas = np.full((800, 800, 4), 255, dtype=np.uint8)
    canvas[200:600, 390:410, :3] = 0
    sketch = {"background": None, "layers": [], "composite": canvas}

    def bare_image_forward(image: Image.Image = photo) -> None:
        with torch.inference_mode():
            inputs = processor(images=[image], return_tensors="pt")
            model.get_image_features(pixel_values=inputs["pixel_values"].to(encoder.dtype))

    def bare_text_forward() -> None:
        with torch.inference_mode():
            inputs = processor.tokenizer(["a cat"], return_tensors="pt", padding="max_length", max_length=64)
            model.get_text_features(**inputs)

    print(f"\n[{precision}] SigLIP B/16-224, random weights, batch 1")
    classify(photo, LABELS, model="siglip", settings=settings)  # labels now cached
    report(
        "zero-shot, 12 cached labels vs image forward",
        *paired(lambda: classify(photo, LABELS, model="siglip", settings=settings), bare_image_forward),
        "<= 1.25",
    )
    report(
        "image query embedding vs image forward",
        *paired(lambda: encoder.embed_images([photo]), bare_image_forward),
        "<= 1.25",
    )
    sketch_forward = Image.fromarray(canvas[..., :3])
    report(
        "sketch (composite+crop+embed) vs image forward",
        *paired(
            lambda: encoder.embed_images([sketch_to_image(sketch)]),
            lambda: bare_image_forward(sketch_forward),
        ),
        "<= 1.25",
    )
    report(
        "text query embedding vs text forward",
        *paired(lambda: encoder.embed_texts(["a cat"]), bare_text_forward),
        "<= 1.25",
    )

    build_search_index(settings)
    index = load_index("captions", settings=settings)
    report(
        f"text search, {len(index)} rows, k=10 vs text forward",
        *paired(lambda: search(index, "a cat", k=10, settings=settings), bare_text_forward),
        "<= 1.25",
    )
    report(
        f"image search, {len(index)} rows, k=10 vs image forward",
        *paired(lambda: search(index, photo, k=10, settings=settings), bare_image_forward),
        "<= 1.25",
    )
    report(
        "sketch search (composite+crop+search) vs forward",
        *paired(
            lambda: search(index, sketch_to_image(sketch), k=10, settings=settings),
            lambda: bare_image_forward(sketch_forward),
        ),
        "<= 1.25",
    )

    def cold() -> None:
        label_cache.clear()
        classify(photo, LABELS, model="siglip", settings=settings)

    report(
        "zero-shot, labels cached vs not cached",
        *paired(lambda: classify(photo, LABELS, model="siglip", settings=settings), cold),
        "<= 0.5",
    )


if __name__ == "__main__":
    main()
