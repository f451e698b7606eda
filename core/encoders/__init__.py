"""A cached, locked loader of encoders: each model loads once per process, on first use.

Importing this package loads no model and imports no ML library.
"""

from __future__ import annotations

import logging
import threading
import time

from core.config import Settings, get_settings
from core.encoders.base import Embeddings, Encoder, ProgressCallback
from core.errors import ModelLoadError, SiglipProjectsError
from core.registry import ModelSpec, env_var, get_spec, resolve_sources, slot_name

__all__ = ["Embeddings", "Encoder", "ProgressCallback", "clear_cache", "get_encoder", "is_loaded"]

log = logging.getLogger(__name__)

_CacheKey = tuple[str, tuple[tuple[str, str], ...], str, str, int]
_cache: dict[_CacheKey, Encoder] = {}
_locks: dict[_CacheKey, threading.Lock] = {}
_locks_guard = threading.Lock()
#: One model loads at a time, whatever its key: while it loads, transformers swaps torch's weight-init
#: functions for no-ops process-wide and then puts back what it found, so two loads that overlap can
#: leave them disabled for good (and any model built later uninitialised).
_load_lock = threading.Lock()
#: How many times each model was actually loaded in this process (the load test checks "once").
load_counts: dict[str, int] = {}


def _cache_key(spec: ModelSpec, settings: Settings) -> _CacheKey:
    sources = resolve_sources(spec, settings.model_overrides)
    return (
        spec.key,
        tuple(sorted(sources.items())),
        settings.device,
        settings.precision,
        settings.naflex_max_patches,
    )


def get_encoder(key: str, settings: Settings | None = None) -> Encoder:
    """Return the encoder of model `key`, loading it on the first call.

    Concurrent first calls wait for one load. A failed load is not cached, so a later call retries.

    Raises:
        UnknownModelError: `key` is not in the registry.
        ModelLoadError: the checkpoint could not be loaded; the message names the key, the id and
            how to point the key at a local folder.
    """
    spec = get_spec(key)
    settings = settings or get_settings()
    cache_key = _cache_key(spec, settings)
    encoder = _cache.get(cache_key)
    if encoder is not None:
        return encoder
    with _locks_guard:
        lock = _locks.setdefault(cache_key, threading.Lock())
    with lock:
        encoder = _cache.get(cache_key)
        if encoder is None:
            with _load_lock:
                encoder = _load(spec, settings)
            _cache[cache_key] = encoder
        return encoder


def is_loaded(key: str, settings: Settings | None = None) -> bool:
    """True when `key` is already in memory (so a call will not wait for a load)."""
    return _cache_key(get_spec(key), settings or get_settings()) in _cache


def clear_cache() -> None:
    """Forget every loaded encoder (memory is freed once no caller holds one)."""
    _cache.clear()


def _load(spec: ModelSpec, settings: Settings) -> Encoder:
    sources = resolve_sources(spec, settings.model_overrides)
    started = time.perf_counter()
    log.info("Loading %s from %s ...", spec.key, sources)
    try:
        encoder = _encoder_class(spec)(spec, sources, settings)
    except SiglipProjectsError:
        raise
    except Exception as error:  # every library raises its own types (OSError, ValueError, HTTP...)
        raise ModelLoadError(_load_error_message(spec, sources, error)) from error
    load_counts[spec.key] = load_counts.get(spec.key, 0) + 1
    log.info("Loaded %s in %.1f s on %s", spec.key, time.perf_counter() - started, encoder.device)
    return encoder


def _encoder_class(spec: ModelSpec) -> type[Encoder]:
    if spec.backend == "transformers":
        from core.encoders.transformers_family import TransformersEncoder

        return TransformersEncoder
    if spec.backend == "open_clip":
        from core.encoders.open_clip_family import OpenClipEncoder

        return OpenClipEncoder
    from core.encoders.sentence_transformers_family import SentenceTransformersEncoder

    return SentenceTransformersEncoder


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
