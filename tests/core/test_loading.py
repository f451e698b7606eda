"""Lazy, cached, thread-safe loading and clear messages when a model cannot load."""

from __future__ import annotations

import threading
import time

import pytest

import core.encoders as encoders
from core.config import Settings
from core.errors import ModelLoadError, UnknownModelError


def test_concurrent_first_calls_load_once(tiny_models):
    settings = Settings.from_env().with_(batch_size=3)  # a cache entry no other test has made
    encoders.clear_cache("clip", settings)
    before = encoders.load_counts.get("clip", 0)
    barrier = threading.Barrier(6)
    results = []

    def load() -> None:
        barrier.wait()
        results.append(encoders.get_encoder("clip", settings))

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(result is results[0] for result in results)
    assert encoders.load_counts["clip"] == before + 1
    assert encoders.is_loaded("clip", settings)


def test_missing_local_folder_is_a_clear_error(tmp_path):
    settings = Settings().with_model_overrides([f"siglip={tmp_path / 'nothing-here'}"])
    with pytest.raises(ModelLoadError) as error:
        encoders.get_encoder("siglip", settings)
    message = str(error.value)
    assert "'siglip'" in message and str(tmp_path / "nothing-here") in message
    assert "SIGLIP_PROJECTS_MODEL_SIGLIP=/path/to/folder" in message
    assert "--model siglip=/path/to/folder" in message
    assert "\n" not in message and "Traceback" not in message
    assert not encoders.is_loaded("siglip", settings)  # failures are not cached


def test_uncached_hub_id_offline_fails_fast_with_instructions():
    settings = Settings().with_model_overrides(["siglip=google/not-a-cached-model"])
    started = time.perf_counter()
    with pytest.raises(ModelLoadError) as error:
        encoders.get_encoder("siglip", settings)
    assert time.perf_counter() - started < 15  # HF_HUB_OFFLINE: no retries
    assert str(error.value) == (
        "Could not load model 'siglip' (SigLIP) from 'google/not-a-cached-model': it is not in the local "
        "Hugging Face cache and the Hub cannot be reached. If you are offline, download it once with "
        "internet (it is then cached), or point the key at a local copy: set "
        "SIGLIP_PROJECTS_MODEL_SIGLIP=/path/to/folder or run `python app.py --model siglip=/path/to/folder`."
    )
    # A two-tower model names one variable per tower.
    with pytest.raises(ModelLoadError, match="SIGLIP_PROJECTS_MODEL_MCLIP_TEXT=/path/to/folder"):
        encoders.get_encoder("mclip", Settings().with_model_overrides(["mclip-text=google/not-cached"]))


def test_nllb_clip_error_explains_local_dir(tmp_path):
    settings = Settings().with_model_overrides([f"nllb-clip=local-dir:{tmp_path}"])
    with pytest.raises(ModelLoadError, match="local-dir:/path/to/folder"):
        encoders.get_encoder("nllb-clip", settings)


def test_unknown_key():
    with pytest.raises(UnknownModelError):
        encoders.get_encoder("dinov2")


def test_the_memory_budget_unloads_the_least_recently_used_model_and_refuses_one_too_large(tiny_models):
    """Sizes measured by torch itself (each model's parameters and buffers): the tiny SigLIP and CLIP
    fit the budget together only without the larger tiny SigLIP 2."""
    loader = encoders.EncoderLoader()  # its own cache: the process's loaded models stay as they are
    sizes = {}
    for key in ("siglip", "clip", "siglip2"):
        model = encoders.get_encoder(key, Settings.from_env())
        sizes[key] = sum(
            t.numel() * t.element_size() for t in (*model.model.parameters(), *model.model.buffers())
        )
    budget = sizes["siglip2"] + max(sizes["siglip"], sizes["clip"])
    assert sizes["siglip"] + sizes["clip"] + sizes["siglip2"] > budget >= sizes["siglip"] + sizes["clip"]
    settings = Settings.from_env().with_(loaded_models_gb=budget / 2**30)

    siglip = loader.get("siglip", settings)
    loader.get("clip", settings)
    assert loader.get("siglip", settings) is siglip  # used again: now CLIP is the least recent
    loader.get("siglip2", settings)
    assert loader.is_loaded("siglip", settings) and loader.is_loaded("siglip2", settings)
    assert not loader.is_loaded("clip", settings)
    assert loader.loaded.total <= budget

    small = settings.with_(loaded_models_gb=(sizes["siglip2"] - 1) / 2**30)
    loader.forget()
    with pytest.raises(ModelLoadError) as error:
        loader.get("siglip2", small)
    message = str(error.value)
    assert (
        f"{sizes['siglip2'] / 2**20:.1f} MB" in message
        and f"{(sizes['siglip2'] - 1) / 2**20:.1f} MB" in message
    )
    assert "SIGLIP_PROJECTS_LOADED_MODELS_GB" in message and not loader.is_loaded("siglip2", small)
    loads = loader.load_counts["siglip2"]
    with pytest.raises(ModelLoadError, match="more than"):
        loader.get("siglip2", small)  # known to be too large: refused without loading it again
    assert loader.load_counts["siglip2"] == loads
    assert loader.get("siglip", small) is not None  # a smaller model still loads
