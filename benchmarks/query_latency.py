"""Query path: end-to-end latency against one bare model forward, and the label-embedding cache.

    python -m benchmarks.query_latency

Each line prints the p50 of the app's path, the p50 of the baseline measured in the same run, and
their ratio. Target: app path <= 1.25x the bare forward; repeated labels >= 2x faster.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from benchmarks.common import machine, p50, siglip_base, timed  # sets HF_HUB_OFFLINE first
from core.config import Settings
from core.encoders import get_encoder
from core.images import sketch_to_image
from core.zeroshot import classify, label_cache

LABELS = ", ".join(
    ["cat", "dog", "car", "tree", "house", "person", "bicycle", "boat", "bird", "flower", "mountain", "beach"]
)


def report(name: str, ours: list[float], baseline: list[float], target: str) -> None:
    ours_ms, base_ms = p50(ours) * 1e3, p50(baseline) * 1e3
    print(f"{name:<46} {ours_ms:8.1f} ms  vs {base_ms:8.1f} ms  ratio {ours_ms / base_ms:5.2f}  ({target})")


def main() -> None:
    print(machine())
    for precision in ("fp32", "bf16"):
        run(precision)


def run(precision: str) -> None:
    folder = siglip_base()
    settings = Settings.from_env().with_(precision=precision, model_overrides={"siglip": str(folder)})
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
        timed(lambda: classify(photo, LABELS, model="siglip", settings=settings)),
        timed(bare_image_forward),
        "<= 1.25",
    )
    report(
        "image query embedding vs image forward",
        timed(lambda: encoder.embed_images([photo])),
        timed(bare_image_forward),
        "<= 1.25",
    )
    report(
        "sketch (composite+crop+embed) vs image forward",
        timed(lambda: encoder.embed_images([sketch_to_image(sketch)])),
        timed(lambda: bare_image_forward(Image.fromarray(canvas[..., :3]))),
        "<= 1.25",
    )
    report(
        "text query embedding vs text forward",
        timed(lambda: encoder.embed_texts(["a cat"])),
        timed(bare_text_forward),
        "<= 1.25",
    )

    def cold() -> None:
        label_cache.clear()
        classify(photo, LABELS, model="siglip", settings=settings)

    report(
        "zero-shot, labels cached vs not cached",
        timed(lambda: classify(photo, LABELS, model="siglip", settings=settings)),
        timed(cold),
        "<= 0.5",
    )


if __name__ == "__main__":
    main()
