"""A cached, locked loader of encoders: each model loads once per process, on first use.

Importing this package loads no model and imports no ML library.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.config import Settings, get_settings
from core.encoders.base import Embeddings, Encoder, FastPath, ProgressCallback
from core.encoders.budget import LoadedModels, budget_bytes, model_bytes, show
from core.errors import ModelLoadError, SiglipProjectsError
from core.registry import ModelSpec, env_var, get_spec, resolve_sources, slot_name, spec_of

__all__ = [
    "Embeddings",
    "Encoder",
    "EncoderLoader",
    "FastPath",
    "ProgressCallback",
    "clear_cache",
    "get_encoder",
    "is_loaded",
    "load_counts",
    "loader",
    "model_load_lock",
    "run_settings",
]

log = logging.getLogger(__name__)

_CacheKey = tuple[str, tuple[tuple[str, str], ...], str, str, int]
#: Makes the encoder of a spec: (spec, sources, settings) -> Encoder.
EncoderFactory = Callable[[ModelSpec, dict[str, str], Settings], Encoder]


def encoder_class(spec: ModelSpec) -> type[Encoder]:
    """The Encoder class of a spec's backend (its module is imported on first use)."""
    if spec.backend == "transformers":
        from core.encoders.transformers_family import TransformersEncoder

        return TransformersEncoder
    if spec.backend == "open_clip":
        from core.encoders.open_clip_family import OpenClipEncoder

        return OpenClipEncoder
    from core.encoders.sentence_transformers_family import SentenceTransformersEncoder

    return SentenceTransformersEncoder


def _make_encoder(spec: ModelSpec, sources: dict[str, str], settings: Settings) -> Encoder:
    return encoder_class(spec)(spec, sources, settings)


class EncoderLoader:
    """Loads each model once, on first use, and keeps it.

    Concurrent first calls of one model wait for one load; loads of different models never overlap,
    in any loader of the process: while a model loads, transformers swaps torch's weight-init
    functions for no-ops process-wide and then puts back what it found, so two loads that overlap
    can leave them disabled for good (and any model built later uninitialised).
    """

    _load_lock = threading.Lock()

    def __init__(self, factory: EncoderFactory | None = None) -> None:
        self.factory = factory or _make_encoder
        self._cache: dict[_CacheKey, Encoder] = {}
        #: Sizes of the loaded models in order of use, within the `loaded_models_gb` budget.
        self.loaded = LoadedModels()
        self._locks: dict[_CacheKey, threading.Lock] = {}
        self._guard = threading.Lock()
        #: How many times each model was actually loaded (the load test checks "once").
        self.load_counts: dict[str, int] = {}

    def get(self, key: str | ModelSpec, settings: Settings | None = None, *, bulk: bool = False) -> Encoder:
        """The encoder of model `key` (a registry key, or its spec), loaded on the first call; see
        `get_encoder`."""
        spec = spec_of(key)
        settings = run_settings(settings or get_settings(), bulk=bulk)
        cache_key = _cache_key(spec, settings)
        with self._guard:
            encoder = self._cache.get(cache_key)
            self.loaded.touch(cache_key)
            lock = self._locks.setdefault(cache_key, threading.Lock())
        if encoder is not None:
            return encoder
        budget = budget_bytes(settings.loaded_models_gb)
        with lock:
            encoder = self._cache.get(cache_key)
            if encoder is None:
                with self._guard:
                    self.loaded.check(cache_key, repr(spec.key), budget)
                with EncoderLoader._load_lock:
                    encoder = self._load(spec, settings)
                self._admit(cache_key, spec, encoder, budget)
            return encoder

    def _admit(self, cache_key: _CacheKey, spec: ModelSpec, encoder: Encoder, budget: int) -> None:
        """Cache a newly loaded model, unloading the least recently used ones to keep within `budget`.

        Raises:
            ModelLoadError: the model alone is larger than the budget (it is dropped).
        """
        size = model_bytes(encoder)
        with self._guard:
            for key in self.loaded.admit(cache_key, repr(spec.key), size, budget):
                log.info("Unloading %s to make room for %s (%s)", key[0], spec.key, show(size))
                self._cache.pop(key, None)  # type: ignore[arg-type]
            self._cache[cache_key] = encoder

    def is_loaded(
        self, key: str | ModelSpec, settings: Settings | None = None, *, bulk: bool = False
    ) -> bool:
        return _cache_key(spec_of(key), run_settings(settings or get_settings(), bulk=bulk)) in self._cache

    def forget(self, key: str | None = None, settings: Settings | None = None) -> None:
        """Drop one loaded model (`key` as `settings` load it, for interactive and for bulk use), or
        every one when `key` is None."""
        with self._guard:
            if key is None:
                self._cache.clear()
                self.loaded = LoadedModels()
                return
            for bulk in (False, True):
                cache_key = _cache_key(get_spec(key), run_settings(settings or get_settings(), bulk=bulk))
                self._cache.pop(cache_key, None)
                self.loaded.drop(cache_key)

    def _load(self, spec: ModelSpec, settings: Settings) -> Encoder:
        sources = resolve_sources(spec, settings.model_overrides)
        started = time.perf_counter()
        log.info("Loading %s from %s ...", spec.key, sources)
        try:
            encoder = self.factory(spec, sources, settings)
        except SiglipProjectsError:
            raise
        except Exception as error:  # every library raises its own types (OSError, ValueError, HTTP...)
            raise ModelLoadError(_load_error_message(spec, sources, error)) from error
        self.load_counts[spec.key] = self.load_counts.get(spec.key, 0) + 1
        log.info("Loaded %s in %.1f s on %s", spec.key, time.perf_counter() - started, encoder.device)
        return encoder


def run_settings(settings: Settings, *, bulk: bool = False) -> Settings:
    """`settings` with `precision` resolved for one kind of use: `auto` becomes fp32 for interactive
    uses and, with `bulk` (index builds, evaluation runs), bf16 where the hardware computes it natively
    (see `core.encoders.base.resolve_precision`). Interactive `auto` and `fp32` then share one loaded
    model, as do bulk `auto` and `bf16` on a CPU with native bf16."""
    if settings.precision != "auto":
        return settings
    from core.encoders.base import resolve_device, resolve_precision

    device = resolve_device(settings.device) if bulk else "cpu"  # interactive auto needs no torch
    return settings.with_(precision=resolve_precision("auto", device, bulk=bulk))


def _cache_key(spec: ModelSpec, settings: Settings) -> _CacheKey:
    sources = resolve_sources(spec, settings.model_overrides)
    return (
        spec.key,
        tuple(sorted(sources.items())),
        settings.device,
        settings.precision,
        settings.naflex_max_patches,
    )


#: The process's loader: every part of the app gets its models from it.
loader = EncoderLoader()
load_counts = loader.load_counts


def get_encoder(key: str | ModelSpec, settings: Settings | None = None, *, bulk: bool = False) -> Encoder:
    """Return the encoder of model `key` (a registry key, or a spec already looked up), loading it on
    the first call.

    With the default `precision=auto`, interactive uses (the default: zero-shot tabs, query
    embeddings) run in fp32, so their scores equal the fp32 reference; `bulk=True` (index builds,
    evaluation runs over many images) runs in bf16 where the CPU or GPU computes it natively, about 2x
    faster on these CPUs. An explicit precision applies to both.

    Concurrent first calls wait for one load. A failed load is not cached, so a later call retries.

    Raises:
        UnknownModelError: `key` is not in the registry.
        ModelLoadError: the checkpoint could not be loaded; the message names the key, the id and
            how to point the key at a local folder.
    """
    return loader.get(key, settings, bulk=bulk)


def is_loaded(key: str | ModelSpec, settings: Settings | None = None, *, bulk: bool = False) -> bool:
    """True when `key` is already in memory for that use (so a call will not wait for a load)."""
    return loader.is_loaded(key, settings, bulk=bulk)


def clear_cache(key: str | None = None, settings: Settings | None = None) -> None:
    """Forget one loaded encoder (`key` as `settings` load it) or all of them; memory is freed once
    no caller holds one."""
    loader.forget(key, settings)


def _load_error_message(spec: ModelSpec, sources: dict[str, str], error: Exception) -> str:
    reason = " ".join(str(error).split())
    if any(hint in reason.lower() for hint in ("couldn't connect", "offline", "connection error")):
        reason = "it is not in the local Hugging Face cache and the Hub cannot be reached"
    elif "weights only load failed" in reason.lower():
        # Never pass on torch's hint to retry with weights_only=False: that would run the pickle's code.
        reason = (
            "its weights are a pickle that torch's safe loader refused (it holds more than tensors); "
            "use a checkpoint with safetensors weights"
        )
    reason = reason[:300].rstrip(".") or type(error).__name__
    if spec.reference:
        return (
            f"Could not load model {spec.key!r} ({spec.family}): {reason}. If you are offline, download it "
            "once with internet (it is then cached), or give a local folder instead."
        )
    where = ", ".join(f"'{source}'" for source in sources.values())
    how = " or ".join(f"{env_var(slot_name(spec.key, tower))}=/path/to/folder" for tower in sources)
    flags = " ".join(f"--model {slot_name(spec.key, tower)}=/path/to/folder" for tower in sources)
    example = "local-dir:/path/to/folder" if spec.backend == "open_clip" else "/path/to/folder"
    return (
        f"Could not load model '{spec.key}' ({spec.name}) from {where}: {reason}. "
        "If you are offline, download it once with internet (it is then cached), "
        f"or point the key at a local copy: set {how} or run `python app.py {flags}`"
        + (f" (for NLLB-CLIP use {example})." if spec.backend == "open_clip" else ".")
    )


def model_load_lock() -> threading.Lock:
    """The lock every model load of this process holds (see `EncoderLoader`): code that loads a
    checkpoint outside the loader (the ONNX export) holds it too."""
    return EncoderLoader._load_lock
