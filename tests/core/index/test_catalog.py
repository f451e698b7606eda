"""The catalog: which index serves which model, noticing new and changed manifests cheaply."""

from __future__ import annotations

import core.index.catalog as catalog_module
from core.index import BuildOptions, FolderSource, build_index
from core.index.catalog import Catalog
from core.index.layout import index_root
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


def test_by_model_prefers_the_named_index_and_skips_other_checkpoints(settings, tmp_path):
    images = tmp_path / "images"
    write_images(images, range(3))
    fake = FakeEncoder(settings)  # model key "siglip", checkpoint "fake-encoder"
    for name in ("alpha", "wikiart"):
        build_index(name, FolderSource(images), BuildOptions(), settings=settings, encoder=fake)
    catalog = Catalog(index_root(settings))
    assert (
        catalog.by_model(settings.with_model_overrides(["siglip=fake-encoder"]), first="wikiart")[
            "siglip"
        ].name
        == "wikiart"
    )
    assert catalog.by_model(settings.with_model_overrides(["siglip=fake-encoder"]))["siglip"].name == "alpha"
    assert catalog.by_model(settings) == {}  # the settings load another siglip checkpoint
