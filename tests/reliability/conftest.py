"""Fixtures of the reliability tests: the whole app on tiny models, served once for all of them.

Each test gets the app with the process settings reset to the app's own (`app`), a `gradio_client`
(`client`), and can check that the app still answers a good request after whatever it did
(`assert_serving`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings, set_settings
from tests.apps.conftest import serve, write_paintings


@dataclass
class App:
    url: str
    settings: Settings
    demo: Any
    fastapi: Any

    @contextlib.contextmanager
    def settings_as(self, settings: Settings) -> Iterator[None]:
        """Serve with other settings (index folder, model checkpoints) for the duration."""
        set_settings(settings)
        try:
            yield
        finally:
            set_settings(self.settings)


@pytest.fixture(scope="session")
def paintings_dir(tmp_path_factory) -> Path:
    """The 12 tiny paintings of the app tests, with their metadata.jsonl."""
    return write_paintings(tmp_path_factory.mktemp("reliability-paintings"))


@pytest.fixture(scope="session")
def served_app(tiny_models, paintings_dir, tmp_path_factory) -> Iterator[App]:
    """`apps.build_demo` + `apps.launch` on a free port, with a `wikiart` index of the paintings (and the
    same paintings with SigLIP 2, for the side-by-side search of the load test)."""
    from benchmarks.load_test import INDEX, OTHER_INDEX
    from core.index import BuildOptions, FolderSource, build_index

    index_dir = tmp_path_factory.mktemp("reliability-indexes")
    settings = Settings.from_env().with_(index_dir=index_dir)
    for name, model in ((INDEX, "siglip"), (OTHER_INDEX, "siglip2")):
        build_index(name, FolderSource(paintings_dir), BuildOptions(model_key=model), settings=settings)
    # A smaller upload limit than the default 200 MB keeps the test of the limit quick.
    with serve(index_dir, eval_max_upload_mb=60) as (demo, fastapi, url, settings):
        yield App(url, settings, demo, fastapi)


@pytest.fixture
def app(served_app) -> Iterator[App]:
    """The served app, with the process settings its own (other tests may have changed them)."""
    set_settings(served_app.settings)
    yield served_app
    set_settings(served_app.settings)


@pytest.fixture(scope="session")
def client(served_app):
    from gradio_client import Client

    return Client(served_app.url, verbose=False)


@pytest.fixture
def assert_serving(client):
    """Call after a bad request: the app must still answer a good one."""

    def check() -> None:
        gallery, status = client.predict("a red disc", k=2, api_name="/text_search")
        assert len(gallery) == 2 and "2 nearest" in status

    return check
