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
