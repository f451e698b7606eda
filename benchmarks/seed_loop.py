"""The seed's way to embed a folder of images, as a process of its own (the baseline of
`benchmarks.whole_process`): transformers' model and processor in fp32, one image at a time.

    python -m benchmarks.seed_loop FOLDER CHECKPOINT OUT.npy

Writes the L2-normalised embeddings of the folder's images, sorted by file name.
"""

from __future__ import annotations

import os
import sys
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
    with torch.inference_mode():
        for path in sorted(folder.glob("*.jpg")):
            image = Image.open(path).convert("RGB")
            inputs = processor(images=[image], return_tensors="pt")
            features = model.get_image_features(**inputs).pooler_output
            rows.append(torch.nn.functional.normalize(features, dim=-1).numpy())
    np.save(out, np.concatenate(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
