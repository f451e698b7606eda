"""Concurrent users: a short run of the load test (benchmarks/load_test.py) against the served app, and
concurrent loads of different models.

Elsewhere: concurrent first calls of one model load it once (tests/core/test_loading.py::
test_concurrent_first_calls_load_once); every model event shares one bounded concurrency group
(tests/apps/test_startup.py::test_model_events_share_one_bounded_concurrency_group).
"""

from __future__ import annotations

import threading
import time

import pytest

from benchmarks.load_test import APP_MODELS, Recorder, endpoint_stats, failures, make_files, run_users
from core import encoders
from core.config import Settings

#: The endpoints of the short run (all of them run in `python -m benchmarks.load_test`).
ENDPOINTS = {
    "/draw_search", "/text_search", "/image_search", "/compare_clip_siglip", "/compare_multilingual",
    "/combined_search", "/similar", "/evaluate",
}  # fmt: skip


@pytest.fixture
def init_functions_kept():
    """transformers turns torch's weight-init functions into no-ops while it loads a model, process-wide:
    overlapping loads must not leave them so."""
    import torch.nn.init
    from transformers import PreTrainedModel

    def current() -> tuple:
        return (
            torch.nn.init.normal_,
            torch.nn.init.uniform_,
            torch.nn.init.trunc_normal_,
            PreTrainedModel.init_weights,
        )

    before = current()
    yield
    assert current() == before, "torch's init functions were left patched by overlapping model loads"


def test_different_models_load_one_at_a_time():
    """Each model has its own lock for "load once"; loads of different models must not overlap either."""
    guard, active, peak = threading.Lock(), [0], [0]

    class SlowEncoder:
        device = "cpu"

        def __init__(self, *args: object) -> None:
            with guard:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.2)
            with guard:
                active[0] -= 1

    loader = encoders.EncoderLoader(factory=SlowEncoder)
    keys = ("clip", "siglip", "siglip2", "mclip")
    start = threading.Barrier(len(keys))

    def load(key: str) -> None:
        start.wait()
        loader.get(key, Settings())

    threads = [threading.Thread(target=load, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert loader.load_counts == dict.fromkeys(keys, 1) and peak[0] == 1


def test_concurrent_users_get_answers_and_each_model_loads_once(app, tmp_path, init_functions_kept):
    encoders.clear_cache()  # every model starts cold, so the first calls race to load it
    before = dict(encoders.load_counts)
    recorder = Recorder()
    thumbnails = tuple(path.name for path in (app.settings.index_dir / "wikiart" / "thumbnails").iterdir())
    files = make_files(tmp_path, thumbnails)
    # One user per endpoint, each starting at another one: every endpoint is called at once, while its
    # model is cold, however slow the machine (with fewer users some were never reached in 6 s).
    users = len(ENDPOINTS)
    run_users(app.url, files, users=users, seconds=6, phase="run", recorder=recorder, only=ENDPOINTS)

    assert not failures(recorder.samples), failures(recorder.samples)[:5]
    assert {row.endpoint for row in endpoint_stats(recorder.samples, "run")} >= ENDPOINTS
    loads = {key: encoders.load_counts.get(key, 0) - before.get(key, 0) for key in APP_MODELS}
    assert loads == dict.fromkeys(APP_MODELS, 1)
