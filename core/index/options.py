"""What a build is asked to do (`BuildOptions`) and what it did (`BuildReport`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError, check_choice
from core.index.ann import EXACT_THRESHOLD
from core.index.layout import IndexType, Kind
from core.index.plan import SkippedItem
from core.index.thumbnails import THUMBNAIL_SIZE
from core.registry import DEFAULT_MODEL_KEY

#: Ways to run the embedding of a build (see `core.index.engines`).
ENGINES = ("local", "ray")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 2**10,
    "m": 2**20,
    "mb": 2**20,
    "g": 2**30,
    "gb": 2**30,
    "t": 2**40,
    "tb": 2**40,
}


def parse_size(text: str) -> int:
    """Bytes of a size such as `4GB`, `512mb`, `1.5G` or `1000000` (units of 1024).

    Raises:
        InvalidInputError: not a positive number with an optional unit (B, KB, MB, GB, TB).
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower().removesuffix("ib") if match else ""
    unit = unit + "b" if unit in ("k", "m", "g", "t") else unit
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise InvalidInputError(f"{text!r} is not a size: write it as 4GB, 512MB or a number of bytes.")
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class BuildOptions:
    """How to build an index; the defaults suit most builds.

    Attributes:
        model_key: Registry key of the model (see `core.registry.MODELS`).
        rebuild: Replace an existing index instead of updating it (needed to change model or source).
        exact_threshold: Largest index searched exactly; above it HNSW (and IVF above 200,000 rows).
        batch_size: Items per model call (default: the settings' batch size).
        thumbnail_size: Longer side of the display thumbnails of image indexes.
        language: Source-language code of texts, for models that need one (NLLB-CLIP: `fra_Latn`).
        decode_workers: Processes that decode and preprocess images while the model runs; "auto":
            none on the CPU (the model uses every core), one per spare core (up to 8) beside a GPU.
        image_runtime: "torch", or "onnx-int8" to embed images with an int8 copy of the image tower
            on ONNX Runtime (CPU, fixed-size transformers models; about 1.4x faster than bf16 on CPUs
            without AMX), used only if the first batch agrees with fp32 at cosine >= 0.999.
        jpeg_decode: "auto" (JPEGs decoded on the GPU beside one), "pil" or "torchvision" (the GPU
            path's batched decode on the encoder's device, whatever it is).
        memory_budget: Most bytes of RAM the index may take when searched. Above the exact threshold,
            an index whose float32 vectors do not fit (or of more than `ann.COMPRESSED_THRESHOLD`
            rows) is compressed: IVF-PQ sized to the budget, re-ranked from float16 vectors kept on
            disk beside it. Default `ann.DEFAULT_MEMORY_BUDGET`.
        engine: "local" (this process) or "ray" (Ray Data: decoding on CPU workers, embedding in an
            actor pool; `pip install -r requirements-ray.txt`). The index is the same either way.
        ray_address: Ray cluster to join (`ray start --head` prints it); default: a Ray instance
            already running here, or a new local one with every CPU and GPU of this machine.
        ray_actors: Model replicas: default one per GPU of the cluster, or on a CPU-only cluster one
            per `ray_actor_cpus + 1` CPUs (the rest decode).
        ray_actor_cpus: CPUs each model replica takes (its torch threads) on CPU-only clusters.
    """

    model_key: str = DEFAULT_MODEL_KEY
    rebuild: bool = False
    exact_threshold: int = EXACT_THRESHOLD
    batch_size: int | None = None
    thumbnail_size: int = THUMBNAIL_SIZE
    language: str | None = None
    decode_workers: int | str | None = "auto"
    image_runtime: str = "torch"
    jpeg_decode: str = "auto"
    memory_budget: int | None = None
    engine: str = "local"
    ray_address: str | None = None
    ray_actors: int | None = None
    ray_actor_cpus: float = 1.0

    def check(self) -> None:
        """Raises InvalidInputError: an unknown engine, or Ray settings that cannot be met."""
        check_choice("engine", self.engine, ENGINES)
        if self.engine != "ray" and (self.ray_address or self.ray_actors is not None):
            raise InvalidInputError("--ray-address and --ray-actors need --engine ray.")
        if self.ray_actors is not None and self.ray_actors < 1:
            raise InvalidInputError(f"ray_actors must be at least 1, got {self.ray_actors}.")
        if not self.ray_actor_cpus > 0:
            raise InvalidInputError(f"ray_actor_cpus must be more than 0, got {self.ray_actor_cpus}.")
        if self.memory_budget is not None and self.memory_budget < 1:
            raise InvalidInputError(
                f"memory_budget must be a positive number of bytes, got {self.memory_budget}."
            )


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        name, path: The index and its folder.
        kind, model_key, model_id: What was indexed, with which model.
        count: Items in the index now.
        added: New items; updated: changed items re-embedded; kept: unchanged items reused;
            removed: items no longer in the source.
        resumed: Items taken from the finished batches of an interrupted build.
        embedded: Items embedded by this run (added + updated - resumed).
        skipped: Unreadable or empty items, with the reason.
        seconds: Wall time of the build; embed_seconds: of the model calls alone (summed over the
            model replicas of a Ray build).
        size_bytes: Size of the index folder on disk.
        index_type, index_params: The FAISS index written (see Manifest).
        notes: Anything else the user should know (e.g. which image runtime embedded the images).
    """

    name: str
    path: Path
    kind: Kind
    model_key: str
    model_id: str
    count: int
    added: int
    updated: int
    kept: int
    removed: int
    resumed: int
    embedded: int
    skipped: tuple[SkippedItem, ...]
    seconds: float
    embed_seconds: float
    size_bytes: int
    index_type: IndexType
    index_params: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def items_per_second(self) -> float:
        """Embedding speed of this run (items embedded per second of model time)."""
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
