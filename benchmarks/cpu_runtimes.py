"""Other CPU runtimes for the image tower: ONNX Runtime and int8, against torch fp32 and bf16.

    python -m benchmarks.cpu_runtimes            # about 5 minutes on 2 cores
    python -m benchmarks.cpu_runtimes --batch 8 --rounds 5

On the real-size SigLIP B/16-224 image tower (random weights) and the same preprocessed batch, in
alternating rounds, it times:
  * torch fp32 (the reference) and torch bf16 (what `precision=auto` runs on CPUs with native bf16);
  * torch int8: `torch.ao.quantization.quantize_dynamic` of every Linear layer (weights int8,
    activations quantised per batch);
  * ONNX Runtime fp32 and every int8 variant of `core.encoders.onnx_tower.QUANTISATIONS`
    (`quantize_dynamic`: full-range int8 weights, 7-bit weights, u8 weights), marked where a build
    on this CPU would not try it.
The batch is photo-like 1024x768 JPEGs through the model's processor (int8 error depends on the
inputs' range: uniform noise measured 0.9992 where these measured 0.9984 for 7-bit weights).
It prints ms per image, the ratio to fp32 and to bf16 (median and range over rounds), and the lowest
cosine to fp32 embeddings. Builds do not adopt a runtime from this table: `image_runtime=auto` times
the candidates on each build's own first batch and checkpoint (`core.encoders.runtimes`). Random
weights have no outlier activations; int8 error on trained ViTs can be larger, or smaller.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, machine, photo_like_jpegs, siglip_base  # sets HF_HUB_OFFLINE first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=16, help="Images per call.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds.")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModel

    print(machine())
    folder = siglip_base()

    class Tower(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    fp32 = Tower(AutoModel.from_pretrained(folder).eval())
    bf16 = Tower(AutoModel.from_pretrained(folder).eval().to(torch.bfloat16))
    int8 = torch.ao.quantization.quantize_dynamic(
        Tower(AutoModel.from_pretrained(folder).eval()), {torch.nn.Linear}, dtype=torch.qint8
    )
    from PIL import Image
    from transformers import AutoProcessor

    photos = [Image.open(path).convert("RGB") for path in photo_like_jpegs(CACHE / "photos", args.batch)]
    pixels = AutoProcessor.from_pretrained(folder)(images=photos, return_tensors="pt")["pixel_values"]

    def run_torch(model: torch.nn.Module, dtype: torch.dtype) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            with torch.inference_mode():
                return model(pixels.to(dtype)).float().numpy()

        return call

    variants: dict[str, Callable[[], np.ndarray]] = {
        "torch fp32": run_torch(fp32, torch.float32),
        "torch bf16": run_torch(bf16, torch.bfloat16),
        "torch int8 (dynamic, Linear)": run_torch(int8, torch.float32),
    }
    variants.update(onnx_variants(fp32, pixels))

    outputs = {name: run() for name, run in variants.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) / args.batch)

    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    reference = unit(outputs["torch fp32"])
    print(f"\nSigLIP B/16-224 image tower, batch {args.batch}, {args.rounds} rounds")
    print(f"{'runtime':<30} {'ms/img':>8} {'x fp32 (range)':>20} {'x bf16 (range)':>20} {'min cos':>9}")
    for name in variants:
        cells = []
        for base in ("torch fp32", "torch bf16"):
            ratios = [b / t for t, b in zip(times[name], times[base], strict=True)]
            cells.append(f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        cosine = float((unit(outputs[name]) * reference).sum(axis=1).min())
        print(
            f"{name:<30} {1000 * statistics.median(times[name]):>8.1f} {cells[0]:>20} {cells[1]:>20} "
            f"{cosine:>9.5f}"
        )
    print("builds keep the fastest runtime at cosine >= 0.999 to fp32, measured on their own first batch")
    return 0


def onnx_variants(model, pixels) -> dict[str, Callable[[], np.ndarray]]:
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        print("onnxruntime is not installed: `pip install onnxruntime onnx` to compare it")
        return {}
    import torch

    from core.encoders.onnx_tower import QUANTISATIONS, quantisations_for

    folder = Path(tempfile.mkdtemp(prefix="onnx-"))
    path = folder / "tower.onnx"
    started = time.perf_counter()
    torch.onnx.export(
        model, (pixels[:2],), str(path), input_names=["pixel_values"], output_names=["embedding"],
        dynamic_axes={"pixel_values": {0: "batch"}}, dynamo=False, opset_version=17,
    )  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = {
        "onnxruntime fp32": ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    }
    here = {q.name for q in quantisations_for()}
    for quantisation in QUANTISATIONS:  # every variant, also those this CPU's builds would not try
        quantised = folder / quantisation.file_name()
        quantize_dynamic(
            str(path), str(quantised), weight_type=getattr(QuantType, quantisation.weights),
            reduce_range=quantisation.reduce_range, per_channel=quantisation.per_channel,
        )  # fmt: skip
        name = f"{quantisation.name}{'' if quantisation.name in here else ' (not tried here)'}"
        sessions[name] = ort.InferenceSession(str(quantised), options, providers=["CPUExecutionProvider"])
    print(f"ONNX export and {len(QUANTISATIONS)} int8 quantisations: {time.perf_counter() - started:.0f} s")
    array = pixels.numpy()
    return {
        name: (lambda session=session: session.run(None, {"pixel_values": array})[0])
        for name, session in sessions.items()
    }


if __name__ == "__main__":
    sys.exit(main())
