"""Runtime choices remembered per checkpoint, CPU and library versions (a tuning cache).

A trial of the image runtimes (`core.encoders.runtimes.choose`) costs about as much as embedding 25
images, so builds of fewer than `runtimes.TRIAL_MIN_IMAGES` images run none. Instead they may use
what the last trial on this machine chose for the same checkpoint files: `remember` writes that
choice beside the exported towers (`onnx_tower.cache_folder`), keyed by everything its speed and
agreement depend on (the CPU's features, torch and ONNX Runtime versions, the torch runtime it was
measured against), and `recall` reads it back. A recalled choice is never used unchecked: the
small build embeds its own first images both ways and keeps it only where they agree with fp32
(`runtimes.choose`).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.encoders import onnx_tower
from core.encoders.base import Encoder
from core.encoders.cpu import CpuFeatures

FILE_NAME = "runtime-choices.json"


@dataclass(frozen=True)
class Remembered:
    """A past trial's choice: the runtime, its reason then, and the trials as recorded."""

    runtime: str
    reason: str
    trials: tuple[dict[str, Any], ...]


def key(own: str, cpu: CpuFeatures) -> str:
    """What a choice depends on besides the checkpoint: the CPU, the libraries, torch's runtime."""
    import onnxruntime
    import torch

    return f"{cpu.describe()} | torch {torch.__version__} | onnxruntime {onnxruntime.__version__} | {own}"


def remember(encoder: Encoder, own: str, cpu: CpuFeatures, record: dict[str, Any]) -> None:
    """Keep `record` (a `RuntimeChoice.record()`) as the choice for `encoder` against `own` on `cpu`.
    Written whole (a temporary file renamed); a file that cannot be written is skipped silently, as
    a cache is, and of two builds that remember at once the last one wins."""
    path = onnx_tower.cache_folder(encoder) / FILE_NAME
    choices = _read(path)
    choices[key(own, cpu)] = {
        "runtime": record["runtime"], "reason": record["reason"], "trials": record["trials"],
    }  # fmt: skip
    temporary = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")  # one per writer
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(choices, indent=1))
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def recall(encoder: Encoder, own: str, cpu: CpuFeatures) -> Remembered | None:
    """The remembered choice for `encoder` against `own` on `cpu`, or None (none, or unreadable)."""
    entry = _read(onnx_tower.cache_folder(encoder) / FILE_NAME).get(key(own, cpu))
    if not isinstance(entry, dict) or not isinstance(entry.get("runtime"), str):
        return None
    trials = entry.get("trials")
    return Remembered(
        entry["runtime"], str(entry.get("reason", "")), tuple(trials) if isinstance(trials, list) else ()
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        choices = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return choices if isinstance(choices, dict) else {}
