"""The catalog: which indexes there are, noticing new and changed manifests cheaply; and which index
serves which model by default."""

from __future__ import annotations

import core.index.format.catalog as catalog_module
from core.index import BuildOptions, FolderSource, build_index
from core.index.format.catalog import Catalog
from core.index.format.layout import index_root
from core.index.searching.resolve import default_indexes
from tests.core.index.conftest import write_images
from tests.reliability.fake_encoder import FakeEncoder


def test_the_catalog_rereads_only_new_or_changed_manifests(settings, tmp_path, monkeypatch):
    images = tmp_path / "images"
    write_images(images, range(4))
    fake = FakeEncoder(settings)
    build_index("first", FolderSource(images), settings=settings, encoder=fake)
    catalog = Catalog(index_root(settings))
    reads: list[str] = []
    real_read = catalog_module.read_manifest

    def counting_read(folder):
        reads.append(folder.name)
        return real_read(folder)

    monkeypatch.setattr(catalog_module, "read_manifest", counting_read)
    assert [entry.name for entry in catalog.entries()] == ["first"] and reads == ["first"]
    assert [entry.name for entry in catalog.entries()] == ["first"] and reads == ["first"]  # unchanged

    build_index("second", FolderSource(images), settings=settings, encoder=fake)  # built "elsewhere"
    write_images(images, [10])
    build_index("first", FolderSource(images), settings=settings, encoder=fake)  # updated
    assert [(e.name, e.count) for e in catalog.entries()] == [("first", 5), ("second", 4)]
    assert sorted(reads) == ["first", "first", "second"]


def test_default_indexes_prefer_the_named_index_and_skip_other_checkpoints(settings, tmp_path):
    images = tmp_path / "images"
    write_images(images, range(3))
    fake = FakeEncoder(settings)  # model key "siglip", checkpoint "fake-encoder"
    for name in ("alpha", "wikiart"):
        build_index(name, FolderSource(images), BuildOptions(), settings=settings, encoder=fake)
    fake_settings = settings.with_model_overrides(["siglip=fake-encoder"])
    assert default_indexes(fake_settings, first="wikiart")["siglip"].name == "wikiart"
    assert default_indexes(fake_settings, first=None)["siglip"].name == "alpha"
    assert default_indexes(settings) == {}  # the settings load another siglip checkpoint
