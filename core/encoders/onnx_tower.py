"""The image tower on ONNX Runtime: an fp32 export and int8 copies, candidate runtimes of CPU builds.

The fp32 image tower is exported to ONNX once per checkpoint and revision (its files' names, sizes
and times; cached under `cache_dir()`), and quantised to int8 per variant
(`onnxruntime.quantization.quantize_dynamic`: int8 weights, activations quantised per batch at run
time). Which variants are worth trying depends on the CPU (`quantisations_for`): with VNNI (or AMX,
or ARM's SDOT) int8 dot products are exact, and full-range int8 weights are the fastest; without
them (AVX2 only) ONNX Runtime sums u8 x s8 products in pairs into int16, which saturates with
full-range weights (cosine 0.93-0.95 to fp32 on SigLIP B/16), so the variants there are 7-bit weights
(`reduce_range`) and u8 weights (slower, closer). Whether any of them is used is measured on the
build's own first batch (`core.encoders.runtimes`), never assumed.

Only transformers families of fixed input size are supported (not NaFlex, not open_clip or
sentence-transformers models), on the CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.encoders import model_load_lock
from core.encoders.base import Encoder, Pixels, normalize
from core.encoders.cpu import CpuFeatures
from core.encoders.cpu import detect as detect_cpu
from core.errors import InvalidInputError


@dataclass(frozen=True)
class Quantisation:
    """One way to quantise the tower: `name` is the runtime's name ("onnx-int8", "onnx-int8-7bit"...)."""

    name: str
    weights: str = "QInt8"  # onnxruntime.quantization.QuantType member
    reduce_range: bool = False
    per_channel: bool = False  # a scale per output channel of each weight, not per tensor

    def file_name(self) -> str:
        return f"image-tower-{self.name.removeprefix('onnx-')}{'-pc' if self.per_channel else ''}.onnx"


#: Full-range int8 weights: the fastest, exact where int8 dot products are (VNNI, AMX, SDOT).
INT8 = Quantisation("onnx-int8")
#: 7-bit int8 weights: no int16 saturation on AVX2 (ONNX Runtime's advice for CPUs without VNNI),
#: per channel (closer to fp32 than per tensor at the same speed on the EPYC-AVX2).
INT8_7BIT = Quantisation("onnx-int8-7bit", reduce_range=True, per_channel=True)
#: u8 weights (the u8 x u8 kernel): slower than 7-bit weights on AVX2, and closer to fp32; per
#: channel (measured: the same speed as per tensor, cosine 0.99971 against 0.99967).
UINT8 = Quantisation("onnx-uint8", weights="QUInt8", per_channel=True)
QUANTISATIONS = (INT8, INT8_7BIT, UINT8)

_lock = threading.Lock()


def quantisations_for(cpu: CpuFeatures | None = None) -> tuple[Quantisation, ...]:
    """The int8 variants worth timing on `cpu` (default: this one), fastest first."""
    return (INT8,) if (cpu or detect_cpu()).int8_dot else (INT8_7BIT, UINT8)


def cache_dir() -> Path:
    """Where exported towers are kept: `$XDG_CACHE_HOME/siglip-projects/onnx` (~/.cache by default)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "siglip-projects" / "onnx"


def unsupported(encoder: Encoder) -> str | None:
    """Why `encoder`'s image tower cannot run on ONNX Runtime here, or None when it can."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime and onnx are not installed"
    path = encoder.fast_path
    if encoder.device.startswith("cuda"):
        return "the model runs on a GPU"
    if encoder.spec.backend != "transformers" or encoder.spec.native_resolution or path is None:
        return "only fixed-size transformers models are exported to ONNX"
    if not path.image_size:
        return "the model has no fixed input size"
    return None


def supports(encoder: Encoder) -> bool:
    """True when `encoder`'s image tower can run on ONNX Runtime here."""
    return unsupported(encoder) is None


def is_exported(encoder: Encoder, quantisation: Quantisation | None = None) -> bool:
    """True when the fp32 export (and `quantisation`'s file, if given) are already cached."""
    folder = cache_folder(encoder)
    names = ["image-tower.onnx"] + ([quantisation.file_name()] if quantisation else [])
    return all((folder / name).exists() for name in names)


class OnnxTower:
    """One ONNX Runtime session of a checkpoint's image tower (fp32, or one int8 variant)."""

    def __init__(self, name: str, session: Any) -> None:
        self.name = name
        self.session = session

    def embed(self, pixels: Pixels) -> np.ndarray:
        """(n, D) float32, L2-normalised embeddings of a preprocessed batch."""
        values = np.asarray(pixels["pixel_values"], dtype=np.float32)
        return normalize(self.session.run(None, {"pixel_values": values})[0])


def cached_tower(encoder: Encoder, name: str) -> OnnxTower | None:
    """The tower of runtime `name` ("onnx-fp32" or a `QUANTISATIONS` name) if it is already on disk,
    else None (nothing is exported or quantised here)."""
    if name == "onnx-fp32":
        return fp32_tower(encoder) if is_exported(encoder) else None
    variant = next((q for q in QUANTISATIONS if q.name == name), None)
    if variant is None or not is_exported(encoder, variant):
        return None
    return int8_tower(encoder, variant)


def fp32_tower(encoder: Encoder) -> OnnxTower:
    """The fp32 export on ONNX Runtime (exported on first use, cached on disk; a new session each call).

    Raises:
        InvalidInputError: the model or machine is not supported (see `unsupported`).
    """
    path = export(encoder)
    return OnnxTower("onnx-fp32", _session(path))


def int8_tower(encoder: Encoder, quantisation: Quantisation = INT8) -> OnnxTower:
    """An int8 variant of the tower on ONNX Runtime, quantised on first use (cached on disk; a new
    session each call, so the variants a build does not keep are freed with their candidates).

    Raises:
        InvalidInputError: the model or machine is not supported (see `unsupported`).
    """
    fp32_path = export(encoder)
    path = fp32_path.with_name(quantisation.file_name())
    with _lock:  # two builds in one process quantise a variant once
        if not path.exists():
            _quantise(fp32_path, path, quantisation)
    return OnnxTower(quantisation.name, _session(path))


def _session(path: Path) -> Any:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # Idle ORT threads otherwise spin for a while after each call, taking the cores from the
    # build's reader thread (decoding the next batch) and from torch.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _image_size(encoder: Encoder) -> int:
    path = encoder.fast_path
    return int(path.image_size or 0) if path is not None else 0


def cache_folder(encoder: Encoder) -> Path:
    """Where `encoder`'s exported towers are cached, named by the checkpoint's files (path, size,
    time): the Hub cache keeps each revision in a folder of its own, so a new revision, or a changed
    local checkpoint, is exported again."""
    source = Path(encoder.sources[""])
    files = sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin")) if source.is_dir() else []
    stamp = [encoder.model_id, str(source.resolve()), str(_image_size(encoder))]
    stamp += [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return cache_dir() / hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:24]


def export(encoder: Encoder) -> Path:
    """The cached fp32 export of the image tower (from the checkpoint, whatever precision the encoder
    runs in), made if missing; it appears whole (written under a temporary name, then renamed).

    Raises:
        InvalidInputError: the model or machine is not supported.
    """
    reason = unsupported(encoder)
    if reason is not None:
        raise InvalidInputError(
            f"'{encoder.key}' cannot run on ONNX Runtime ({reason}): build with --image-runtime auto "
            "or torch."
        )
    fp32_path = cache_folder(encoder) / "image-tower.onnx"
    with _lock:  # two builds in one process export once (processes write under names of their own)
        if not fp32_path.exists():
            _export(encoder, fp32_path)
    return fp32_path


def _export(encoder: Encoder, fp32_path: Path) -> None:
    import torch
    from transformers import AutoModel

    class ImageTower(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    with model_load_lock():  # loads never overlap in a process (transformers' init swap)
        model = AutoModel.from_pretrained(encoder.sources[""], trust_remote_code=False).eval()
    size = _image_size(encoder)
    temporary = fp32_path.with_suffix(f".tmp{os.getpid()}.onnx")
    # The TorchScript exporter refuses inference-mode tensors, and warns about every Python branch of
    # the modelling code: the tower has no data-dependent branch, the batch axis is the only dynamic one.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            ImageTower(model), (torch.zeros(2, 3, size, size),), str(temporary),
            input_names=["pixel_values"], output_names=["embedding"],
            dynamic_axes={"pixel_values": {0: "batch"}}, dynamo=False, opset_version=17,
        )  # fmt: skip
    os.replace(temporary, fp32_path)


def _quantise(fp32_path: Path, path: Path, quantisation: Quantisation) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    temporary = path.with_suffix(f".tmp{os.getpid()}.onnx")
    weights = getattr(QuantType, quantisation.weights)
    quiet = _DropAdvice()  # the quantiser logs its pre-processing advice through the root logger
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(fp32_path), str(temporary), weight_type=weights, reduce_range=quantisation.reduce_range,
            per_channel=quantisation.per_channel,
        )  # fmt: skip
    finally:
        logging.getLogger().removeFilter(quiet)
    os.replace(temporary, path)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()
