"""The seed's way to embed a folder of images, as a process of its own (the baseline of
`benchmarks.whole_process`): transformers' model and processor in fp32, one image at a time.

    python -m benchmarks.seed_loop FOLDER CHECKPOINT OUT.npy

Writes the L2-normalised embeddings of the folder's images, sorted by file name, and prints the
loop's own time (`loop: N images in S s`), start-up and model load excluded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str]) -> int:
    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModel, AutoProcessor

    folder, checkpoint, out = Path(argv[0]), argv[1], Path(argv[2])
    model = AutoModel.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    rows = []
    started = time.perf_counter()
    with torch.inference_mode():
        for path in sorted(folder.glob("*.jpg")):
            image = Image.open(path).convert("RGB")
            inputs = processor(images=[image], return_tensors="pt")
            features = model.get_image_features(**inputs).pooler_output
            rows.append(torch.nn.functional.normalize(features, dim=-1).numpy())
    print(f"loop: {len(rows)} images in {time.perf_counter() - started:.2f} s")
    np.save(out, np.concatenate(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
