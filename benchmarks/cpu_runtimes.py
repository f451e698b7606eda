"""Other CPU runtimes for the image tower: ONNX Runtime and int8, against torch fp32 and bf16.

    python -m benchmarks.cpu_runtimes            # about 4 minutes on 2 cores
    python -m benchmarks.cpu_runtimes --batch 8 --rounds 5

On the real-size SigLIP B/16-224 image tower (random weights) and the same preprocessed batch, in
alternating rounds, it times:
  * torch fp32 (the reference) and torch bf16 (what `precision=auto` runs on CPUs with native bf16);
  * torch int8: `torch.ao.quantization.quantize_dynamic` of every Linear layer (weights int8,
    activations quantised per batch);
  * ONNX Runtime fp32 and ONNX Runtime int8 (`onnxruntime.quantization.quantize_dynamic`), when the
    `onnxruntime` and `onnx` packages are installed (they are not requirements of the app).
It prints ms per image, the ratio to fp32 and to bf16 (median and range over rounds), and the lowest
cosine to fp32 embeddings. Adoption rule: >= 1.3x faster than the path in use, at cosine >= 0.999.
Caveat: random weights have no outlier activations; int8 error on trained ViTs is usually larger.
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

from benchmarks.common import machine, siglip_base  # sets HF_HUB_OFFLINE first


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
    pixels = torch.randn(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)

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
    print("adopt only if >= 1.3x faster than the path in use (bf16 where native) at cosine >= 0.999")
    return 0


def onnx_variants(model, pixels) -> dict[str, Callable[[], np.ndarray]]:
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        print("onnxruntime is not installed: `pip install onnxruntime onnx` to compare it")
        return {}
    import torch

    folder = Path(tempfile.mkdtemp(prefix="onnx-"))
    path, quantized = folder / "tower.onnx", folder / "tower-int8.onnx"
    started = time.perf_counter()
    torch.onnx.export(
        model, (pixels[:2],), str(path), input_names=["pixel_values"], output_names=["embedding"],
        dynamic_axes={"pixel_values": {0: "batch"}}, dynamo=False, opset_version=17,
    )  # fmt: skip
    quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    print(f"ONNX export and int8 quantisation: {time.perf_counter() - started:.0f} s")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    sessions = {
        "onnxruntime fp32": ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]),
        "onnxruntime int8 (dynamic)": ort.InferenceSession(
            str(quantized), options, providers=["CPUExecutionProvider"]
        ),
    }
    array = pixels.numpy()
    return {
        name: (lambda session=session: session.run(None, {"pixel_values": array})[0])
        for name, session in sessions.items()
    }


if __name__ == "__main__":
    sys.exit(main())
