"""What a build is asked to do (`BuildOptions`), checked once, and what it did (`BuildReport`).

Every allowed value of a build's options lives here, and `BuildOptions.check` is the one place that
checks them (the driver calls it before anything else). Each stage then gets only its own slice:
the reader `ReadOptions`, the embedder `EmbedOptions`, the Ray engine `RayOptions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.index.ann.build import EXACT_THRESHOLD
from core.index.build.plan import SkippedItem
from core.index.format.layout import IndexType, Kind
from core.index.format.thumbnails import THUMBNAIL_SIZE
from core.limits import check_choice, quote
from core.registry import DEFAULT_MODEL_KEY

#: Ways to run the embedding of a build (see `core.index.build.engines`).
ENGINES = ("local", "ray")
#: Ways to run the image model in a build or evaluation on the CPU (see `core.encoders.runtimes`):
#: "auto" times the candidates on the first batch and keeps the fastest that agrees with fp32,
#: "torch" is the encoder's own path, "onnx-int8" an int8 tower whenever it agrees.
IMAGE_RUNTIMES = ("auto", "torch", "onnx-int8")
#: How JPEG files are decoded: "auto" (on the GPU when the encoder runs on one), "pil" (always the
#: CPU path), "torchvision" (batched `decode_jpeg` on the encoder's device, the GPU path, on any device).
JPEG_DECODERS = ("auto", "pil", "torchvision")
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


def parse_workers(setting: str | int | None) -> int | None:
    """The `decode_workers` setting: None for "auto" (or unset), else a whole number >= 0.

    Raises:
        InvalidInputError: neither `auto` nor a whole number >= 0.
    """
    if setting is None or str(setting).strip().lower() == "auto":
        return None
    try:
        workers = int(setting)
    except ValueError:
        workers = -1
    if workers < 0:
        raise InvalidInputError(
            f"decode_workers must be 'auto' or a whole number >= 0, got {quote(setting)}."
        )
    return workers


@dataclass(frozen=True)
class ReadOptions:
    """The reader's slice: items to embed per batch, thumbnail size, JPEG decoding, decode workers."""

    batch_size: int
    thumbnail_size: int = THUMBNAIL_SIZE
    jpeg_decode: str = "auto"
    decode_workers: int | None = None  # None: "auto"


@dataclass(frozen=True)
class EmbedOptions:
    """The embedder's slice: the texts' source language, the image runtime, and the precision setting
    (an explicit precision keeps "auto" from measuring other runtimes)."""

    language: str | None = None
    image_runtime: str = "auto"
    precision: str = "auto"


@dataclass(frozen=True)
class RayOptions:
    """The Ray engine's slice: where the cluster is and how many model replicas of how many CPUs."""

    address: str | None = None
    actors: int | None = None
    actor_cpus: float = 1.0


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
        image_runtime: "auto" (with `precision=auto` on the CPU: the candidates that exist on this CPU,
            torch, ONNX Runtime fp32 and int8 variants, are timed on the first batch and the fastest
            whose embeddings agree with fp32 is kept; see `core.encoders.runtimes`), "torch" (the
            encoder's own path), or "onnx-int8" (an int8 tower whenever it agrees with fp32).
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
    image_runtime: str = "auto"
    jpeg_decode: str = "auto"
    memory_budget: int | None = None
    engine: str = "local"
    ray_address: str | None = None
    ray_actors: int | None = None
    ray_actor_cpus: float = 1.0

    def check(self) -> None:
        """Check every option, once, before a build starts.

        Raises:
            InvalidInputError: an unknown engine, image runtime or JPEG decoder, a bad number of decode
                workers, batch size, thumbnail size or memory budget, or Ray settings that cannot be met.
        """
        check_choice("engine", self.engine, ENGINES)
        check_choice("image_runtime", self.image_runtime, IMAGE_RUNTIMES)
        check_choice("jpeg_decode", self.jpeg_decode, JPEG_DECODERS)
        parse_workers(self.decode_workers)
        for name in ("batch_size", "thumbnail_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInputError(f"{name} must be a whole number of at least 1, got {quote(value)}.")
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

    def reading(self, settings: Settings) -> ReadOptions:
        """The reader's options (the batch size falls back on the settings')."""
        return ReadOptions(
            batch_size=max(1, self.batch_size or settings.batch_size),
            thumbnail_size=self.thumbnail_size,
            jpeg_decode=self.jpeg_decode,
            decode_workers=parse_workers(self.decode_workers),
        )

    def embedding(self, settings: Settings) -> EmbedOptions:
        """The embedder's options (the precision setting comes from `settings`)."""
        return EmbedOptions(self.language, self.image_runtime, settings.precision)

    def ray(self) -> RayOptions:
        return RayOptions(address=self.ray_address, actors=self.ray_actors, actor_cpus=self.ray_actor_cpus)


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
