"""The cost of `precision=auto`'s choice: fp32 for interactive uses, bf16 for bulk ones, in one run.

    python -m benchmarks.precision

On the real-size SigLIP B/16-224 (random weights), each line alternates the fp32 and the bf16 model
call by call (so a busy machine slows both alike) and prints their p50 and the ratio fp32 / bf16:
  * zero-shot of one image against 12 labels already in the label cache (the comparison tabs);
  * one text query embedding (text search) and one image query embedding (picture and drawing search);
  * a bulk batch of 16 preprocessed images through the fast path (index builds, evaluations), as img/s.
It also prints how far bf16's zero-shot scores move from fp32's on that image (the fidelity that
interactive fp32 buys). Where the CPU has no native bf16, `auto` is fp32 for both and nothing changes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from benchmarks.common import machine, p50, siglip_base  # sets HF_HUB_OFFLINE first

LABELS = [
    "cat",
    "dog",
    "car",
    "tree",
    "house",
    "person",
    "bicycle",
    "boat",
    "bird",
    "flower",
    "mountain",
    "beach",
]


def paired(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[list[float], list[float]]:
    """Wall times of the two, called alternately after one warm-up call each."""
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for function, out in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            out.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    from core.config import Settings
    from core.encoders import get_encoder
    from core.encoders.base import collate, native_low_precision
    from core.zeroshot import classify

    print(machine())
    base = Settings.from_env().with_(model_overrides={"siglip": str(siglip_base())}, precision="auto")
    fp32 = get_encoder("siglip", base)  # interactive auto
    bf16 = get_encoder("siglip", base, bulk=True)  # bulk auto
    print(
        f"auto resolves to {str(fp32.dtype).removeprefix('torch.')} (interactive) and "
        f"{str(bf16.dtype).removeprefix('torch.')} (bulk); native half precision here: "
        f"{native_low_precision(fp32.device)}"
    )
    if bf16.dtype == fp32.dtype:
        print("no native bf16 on this machine: both uses run in fp32, nothing to compare")
        return 0
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    bulk_settings = base.with_(precision="bf16")
    for settings in (base, bulk_settings):  # labels into the cache of each model
        classify(image, LABELS, model="siglip", settings=settings)
    rows = [
        (
            "zero-shot, 1 image x 12 cached labels",
            lambda s: classify(image, LABELS, model="siglip", settings=s),
        ),
        ("text query embedding", lambda s: get_encoder("siglip", s).embed_texts(["a dog on a beach"])),
        ("image query embedding", lambda s: get_encoder("siglip", s).embed_images([image])),
    ]
    print(f"\n{'interactive call (batch 1)':<42} {'fp32 ms':>9} {'bf16 ms':>9} {'fp32/bf16':>10}")
    for name, call in rows:
        slow, fast = paired(lambda call=call: call(base), lambda call=call: call(bulk_settings), repeat=9)
        print(f"{name:<42} {p50(slow) * 1e3:>9.1f} {p50(fast) * 1e3:>9.1f} {p50(slow) / p50(fast):>10.2f}")

    images = [Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)) for _ in range(16)]
    pixels = collate([fp32.fast_path.preprocess([one]) for one in images])  # type: ignore[union-attr]
    slow, fast = paired(lambda: fp32.fast_path.embed(pixels), lambda: bf16.fast_path.embed(pixels), repeat=3)  # type: ignore[union-attr]
    print(
        f"{'bulk: 16 preprocessed images':<42} {16 / p50(slow):>7.2f}/s {16 / p50(fast):>7.2f}/s "
        f"{p50(slow) / p50(fast):>10.2f}"
    )
    reference = {r["label"]: r["score"] for r in classify(image, LABELS, model="siglip", settings=base)}
    lowered = {
        r["label"]: r["score"] for r in classify(image, LABELS, model="siglip", settings=bulk_settings)
    }
    shift = max(abs(reference[label] - lowered[label]) for label in LABELS)
    cosine = float((fp32.fast_path.embed(pixels) * bf16.fast_path.embed(pixels)).sum(axis=1).min())  # type: ignore[union-attr]
    print(
        f"\nbf16 vs fp32: zero-shot scores move by up to {shift:.1e}; "
        f"image embeddings' cosine >= {cosine:.5f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
