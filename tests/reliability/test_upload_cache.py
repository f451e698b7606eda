"""Gradio's upload cache is cleaned (`delete_cache`): a long-running app does not fill its disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apps import delete_cache
from core.config import Settings
from tests.apps.conftest import serve
from tests.reliability.test_security import upload


def test_the_cache_settings_become_gradios_delete_cache():
    assert delete_cache(Settings()) == (300, 3600)  # every 5 minutes, files older than an hour
    assert delete_cache(Settings(upload_cache_minutes=0.5)) == (30, 30)
    assert delete_cache(Settings(upload_cache_minutes=0)) is None


def test_old_uploads_are_deleted(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGLIP_PROJECTS_UPLOAD_CACHE_MINUTES", str(1 / 60))  # one second
    with serve(tmp_path / "indexes") as (demo, _, url, _settings):
        assert demo.delete_cache == (1, 1)
        app = type("App", (), {"url": url})
        status, text = upload(app, b"\xff\xd8 an old upload")
        assert status == 200, text
        path = Path(text.strip('[]" \n').split('"')[0])
        assert path.is_file()
        deadline = time.monotonic() + 30
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if path.exists():
            pytest.fail(f"{path} was not deleted within 30 s")
