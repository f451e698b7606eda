"""An int8 image tower on ONNX Runtime: the fastest CPU path for index builds, opt-in and self-checked.

The fp32 image tower is exported to ONNX once per checkpoint (cached under `cache_dir()`), its
Linear weights quantised to int8 (`onnxruntime.quantization.quantize_dynamic`: activations are
quantised per batch at run time), and run by ONNX Runtime. On our 2-core AMD EPYC (AVX512-VNNI,
AVX512-BF16, no AMX) SigLIP B/16's tower ran 2.75x faster than torch fp32 and 1.44x faster than
torch bf16 at cosine 0.9997 to fp32 (random weights; benchmarks/cpu_runtimes.py).

Trained ViTs can have outlier activations that per-batch int8 handles worse than random weights, so
`agreement` measures the int8 embeddings against the fp32 export on real inputs; the index builder
checks the first batch of every build and keeps torch when the cosine is below `MIN_COSINE`.
Only transformers families of fixed input size are supported (not NaFlex, not open_clip or
sentence-transformers models).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.encoders.base import Encoder, Pixels, normalize
from core.errors import InvalidInputError

#: Lowest cosine to fp32 at which int8 embeddings are used.
MIN_COSINE = 0.999
#: Images of a build's first batch embedded by both towers to check them (fp32 is the slow one).
CHECK_IMAGES = 8

_towers: dict[str, OnnxInt8ImageTower] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where exported towers are kept: `$XDG_CACHE_HOME/siglip-projects/onnx` (~/.cache by default)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "siglip-projects" / "onnx"


def supports(encoder: Encoder) -> bool:
    """True when `encoder`'s image tower can run as int8 on ONNX Runtime here."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    path = encoder.fast_path
    return (
        encoder.spec.backend == "transformers"
        and not encoder.spec.native_resolution
        and path is not None
        and path.image_size is not None
        and not encoder.device.startswith("cuda")
    )


def int8_tower(encoder: Encoder) -> OnnxInt8ImageTower:
    """The int8 tower of `encoder`'s checkpoint, exported on first use and cached per process.

    Raises:
        InvalidInputError: the model or machine is not supported (see `supports`).
    """
    if not supports(encoder):
        raise InvalidInputError(
            f"The int8 image runtime needs onnxruntime and onnx, the CPU, and a fixed-size transformers "
            f"model; '{encoder.key}' on {encoder.device} cannot use it. Build with the default runtime."
        )
    key = f"{encoder.model_id}|{_image_size(encoder)}"
    with _lock:
        if key not in _towers:
            _towers[key] = OnnxInt8ImageTower(encoder)
        return _towers[key]


class OnnxInt8ImageTower:
    """fp32 and int8 ONNX Runtime sessions of one checkpoint's image tower."""

    def __init__(self, encoder: Encoder) -> None:
        import onnxruntime as ort
        import torch

        folder = cache_dir() / _fingerprint(encoder)
        fp32_path, int8_path = folder / "image-tower.onnx", folder / "image-tower-int8.onnx"
        if not int8_path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _export(encoder, fp32_path, int8_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        # Idle ORT threads otherwise spin for a while after each call, taking the cores from the
        # build's reader thread (decoding the next batch) and from torch.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.fp32 = ort.InferenceSession(str(fp32_path), options, providers=providers)
        self.int8 = ort.InferenceSession(str(int8_path), options, providers=providers)

    def embed(self, pixels: Pixels) -> np.ndarray:
        """(n, D) float32, L2-normalised int8 embeddings of a preprocessed batch."""
        return _run(self.int8, pixels)

    def agreement(self, pixels: Pixels, most: int = CHECK_IMAGES) -> float:
        """Lowest cosine between the int8 and the fp32 embeddings of (the first `most` images of) a batch."""
        sample = {key: value[:most] for key, value in pixels.items()}
        return float((_run(self.int8, sample) * _run(self.fp32, sample)).sum(axis=1).min())


def _run(session: Any, pixels: Pixels) -> np.ndarray:
    values = np.asarray(pixels["pixel_values"], dtype=np.float32)
    return normalize(session.run(None, {"pixel_values": values})[0])


def _image_size(encoder: Encoder) -> int:
    path = encoder.fast_path
    return int(path.image_size or 0) if path is not None else 0


def _fingerprint(encoder: Encoder) -> str:
    """Names the checkpoint's files (path, size, time), so a changed checkpoint is exported again."""
    source = Path(encoder.sources[""])
    files = sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin")) if source.is_dir() else []
    stamp = [encoder.model_id, str(_image_size(encoder))]
    stamp += [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:24]


def _export(encoder: Encoder, fp32_path: Path, int8_path: Path) -> None:
    """Export the fp32 image tower (from the checkpoint, whatever precision the encoder runs in) and
    its int8 version; each file appears whole (written under a temporary name, then renamed)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class ImageTower(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    model = AutoModel.from_pretrained(encoder.sources[""], trust_remote_code=False).eval()
    size = _image_size(encoder)
    example = torch.zeros(2, 3, size, size)
    temporary = fp32_path.with_suffix(f".tmp{os.getpid()}.onnx")
    with torch.no_grad():  # the TorchScript exporter refuses inference-mode tensors
        torch.onnx.export(
            ImageTower(model), (example,), str(temporary), input_names=["pixel_values"],
            output_names=["embedding"], dynamic_axes={"pixel_values": {0: "batch"}}, dynamo=False,
            opset_version=17,
        )  # fmt: skip
    os.replace(temporary, fp32_path)
    quantize_dynamic(str(fp32_path), str(temporary), weight_type=QuantType.QInt8)
    os.replace(temporary, int8_path)
