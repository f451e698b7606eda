"""Shared set-up for the benchmarks: real-size checkpoints with random weights, test images, timing.

The Hub is not reachable here, so the benchmarks build SigLIP B/16-224 with the real architecture and
random weights (speed does not depend on the weights) and load it through the app's own loading path.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

CACHE = Path(os.environ.get("SIGLIP_PROJECTS_BENCH_CACHE", Path.home() / ".cache" / "siglip-projects-bench"))


def siglip_base(root: Path = CACHE) -> Path:
    """SigLIP B/16-224 (google/siglip-base-patch16-224's architecture) with random weights."""
    folder = root / "siglip-base-patch16-224-random"
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from transformers import AutoProcessor, SiglipConfig, SiglipModel

    from core.testing.tiny_models import build_tiny_models

    tiny = build_tiny_models(root / "tiny")
    processor = AutoProcessor.from_pretrained(tiny["siglip"])
    processor.image_processor.size = {"height": 224, "width": 224}
    tower = {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
    }
    config = SiglipConfig(
        text_config={**tower, "vocab_size": len(processor.tokenizer), "max_position_embeddings": 64},
        vision_config={**tower, "image_size": 224, "patch_size": 16},
    )
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def photo_like_jpegs(folder: Path, count: int, size: tuple[int, int] = (1024, 768)) -> list[Path]:
    """`count` smooth random JPEGs (camera-like size and compressibility), made once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / f"photo_{i:05d}.jpg"
        if not path.exists():
            small = rng.integers(0, 255, (size[1] // 32, size[0] // 32, 3), dtype=np.uint8)
            noise = rng.integers(-12, 12, (size[1], size[0], 3))
            big = np.asarray(Image.fromarray(small).resize(size, Image.BICUBIC), dtype=np.int16) + noise
            Image.fromarray(big.clip(0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def timed(function: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall times in seconds of `repeat` calls after `warmup` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def p50(times: list[float]) -> float:
    return statistics.median(times)


def machine() -> str:
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from core.encoders.cpu import detect

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}"
        f"\nCPU features: {detect().describe()}"
    )
