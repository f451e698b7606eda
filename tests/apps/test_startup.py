"""Start-up: the app serves within seconds with no model loaded, and its queue is bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.apps.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "open_clip", "sentence_transformers", "faiss")


def test_building_the_demo_imports_no_ml_library(tmp_path):
    code = (
        "import sys; from core.config import Settings; import apps; "
        f"apps.build_demo(Settings(index_dir=__import__('pathlib').Path({str(tmp_path)!r}))); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    env = {**os.environ, "SIGLIP_PROJECTS_WIKIART_SIZE": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_app_py_serves_within_seconds(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SIGLIP_PROJECTS_WIKIART_SIZE": "0",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_SERVER_PORT": str(port),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--index-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}: {process.stdout.read()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() - started > 60:
                    pytest.fail("app.py did not serve within 60 s")
                time.sleep(0.3)
        elapsed = time.monotonic() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
            config = response.read().decode()
        assert '"draw_search"' in config and '"compare_multilingual"' in config
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert elapsed < 30, f"took {elapsed:.1f} s to serve"


def test_model_events_share_one_bounded_concurrency_group(app_settings):
    import apps

    demo = apps.build_demo(app_settings)
    named = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    wanted = {"draw_search", "text_search", "image_search", "compare_clip_siglip", "compare_multilingual"}
    assert wanted <= set(named)
    assert {named[name].concurrency_id for name in wanted} == {"models"}


def test_evaluations_queue_one_at_a_time_apart_from_the_other_tabs(app_settings):
    import apps

    demo = apps.build_demo(app_settings)
    (evaluate,) = [fn for fn in demo.fns.values() if fn.api_name == "evaluate"]
    assert evaluate.concurrency_id == "evaluate" and evaluate.concurrency_limit == 1
