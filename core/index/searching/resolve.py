"""Which index a request searches, opened in one pass: `open_index(model, name)`.

A search names a model, an index, or both. `open_index` looks the model up in the registry once,
finds the index in the catalog (by name, or the model's default: the WikiArt gallery first, then the
others by name), checks it once against the checkpoint the settings load for the model, loads it
(cached per version) and has its thumbnails served. What it returns, a `SearchTarget`, is searched
with no further lookup or check. The lists behind the app's selectors come from here too.

Every lookup is made for a `Caller`: an index the caller may not read (someone else's private
collection) is, for them, an index that does not exist; and only indexes without an owner (the
gallery, command-line builds) are any model's default.
"""

from __future__ import annotations

from core.checkpoints import is_reference
from core.config import Settings, get_settings
from core.errors import IndexLoadError, NoIndexError, SiglipProjectsError
from core.index import hints
from core.index.format.access import Caller, is_owned, may_read
from core.index.format.catalog import IndexInfo, catalog
from core.index.format.compat import check_compatible, expected_model_id
from core.index.format.layout import WIKIART_INDEX, Kind
from core.index.searching.load import load_index
from core.index.searching.served import serve_thumbnails
from core.index.searching.target import SearchTarget
from core.registry import MODELS, ModelSpec, get_spec


def open_index(
    model: str | None, name: str | None = None, settings: Settings | None = None, caller: Caller | None = None
) -> SearchTarget:
    """The image index a search uses, opened for the model that searches it.

    Args:
        model: Registry key of the model the query is embedded with; None: the named index's own.
        name: An image index; None or "": the model's default (the WikiArt gallery first).
        settings: Index folder and model overrides; default: the process settings.
        caller: Who asks (default: nobody known): another's private collection does not exist for them.

    Returns:
        A SearchTarget: the index, loaded and checked, with the model's spec.

    Raises:
        NoIndexError: no image index was built with the model (the message says how to build one).
        IndexLoadError: no image index `name`, or one that cannot be read.
        IndexMismatchError: the index was built with another model or checkpoint (names both).
        UnknownModelError: `model` is not a registry key.
        InvalidInputError: `name` is not a valid index name.
    """
    settings = settings or get_settings()
    caller = caller or Caller()
    entries = [entry for entry in catalog(settings).entries() if may_read(entry.path, caller)]
    if name:
        entry = _named(entries, name)
        spec = get_spec(model or entry.model_key)
        model_id = expected_model_id(spec, settings)
    else:
        if model is None:
            raise NoIndexError("Name a model or an index to search.")
        spec = get_spec(model)
        model_id = expected_model_id(spec, settings)
        entry = _default(_unowned(entries), spec, model_id)
    check_compatible(entry.manifest, spec.key, model_id)
    owned = is_owned(entry.path)
    if not owned:
        serve_thumbnails(entry.path, settings)
    return SearchTarget(load_index(entry.name, settings=settings), spec, settings, served=not owned)


def _unowned(entries: list[IndexInfo]) -> list[IndexInfo]:
    """The indexes without an owner: the only ones a model's default may be."""
    return [entry for entry in entries if not is_owned(entry.path)]


def _named(entries: list[IndexInfo], name: str) -> IndexInfo:
    entry = next((entry for entry in entries if entry.name == name), None)
    if entry is None or entry.kind != Kind.IMAGE:
        images = ", ".join(e.name for e in entries if e.kind == Kind.IMAGE) or "none"
        what = "is a text index" if entry is not None else "does not exist"
        raise IndexLoadError(
            f"The image index {name[:80]!r} {what}; image indexes: {images}. {hints.image_index_hint()}"
        )
    return entry


def _default(entries: list[IndexInfo], spec: ModelSpec, model_id: str) -> IndexInfo:
    """The model's default index: the first of its indexes built from the checkpoint loaded now (the
    gallery first); else its first index, whose check then says which checkpoint built it."""
    own = [entry for entry in _ordered(entries) if entry.model_key == spec.key]
    if not own:
        available = ", ".join(default_indexes(entries=entries)) or "none"
        raise NoIndexError(
            f"No image index was built with {spec.name} ('{spec.key}'); models with an index: "
            f"{available}. {hints.no_index_hint(spec.key)}"
        )
    return next((entry for entry in own if entry.model_id == model_id), own[0])


def _ordered(entries: list[IndexInfo], first: str | None = WIKIART_INDEX) -> list[IndexInfo]:
    """The image indexes: the one named `first` (the WikiArt gallery) first, then the others by name."""
    return sorted((e for e in entries if e.kind == Kind.IMAGE), key=lambda e: (e.name != first, e.name))


def default_indexes(
    settings: Settings | None = None,
    *,
    first: str | None = WIKIART_INDEX,
    entries: list[IndexInfo] | None = None,
) -> dict[str, IndexInfo]:
    """{model key: its default image index}, in registry order: for each model, the first of its image
    indexes built from the checkpoint the settings load for it (the index named `first`, the WikiArt
    gallery, first; then by name)."""
    settings = settings or get_settings()
    entries = _ordered(_unowned(entries if entries is not None else catalog(settings).entries()), first)
    expected = _expected_ids(entries, settings)
    chosen: dict[str, IndexInfo] = {}
    for entry in entries:
        if expected.get(entry.model_key) == entry.model_id:
            chosen.setdefault(entry.model_key, entry)
    # Registry models first, in registry order; then models named by reference, by reference.
    return {key: chosen[key] for key in [*MODELS, *sorted(set(chosen) - set(MODELS))] if key in chosen}


def usable_indexes(
    model: str | None = None, settings: Settings | None = None, caller: Caller | None = None
) -> list[IndexInfo]:
    """Image indexes `caller` may read that are searchable with `model` (None: with their own model)
    as the settings load it, by name."""
    settings = settings or get_settings()
    entries = catalog(settings).entries(Kind.IMAGE)
    expected = _expected_ids(entries, settings)
    return [
        entry
        for entry in entries
        if (model is None or entry.model_key == model)
        and expected.get(entry.model_key) == entry.model_id
        and may_read(entry.path, caller or Caller())
    ]


def _expected_ids(entries: list[IndexInfo], settings: Settings) -> dict[str, str]:
    """{model key: the checkpoint the settings load for it} for every registry model and every model
    reference that built one of `entries` (a reference that cannot be resolved now is left out)."""
    expected = {key: expected_model_id(spec, settings) for key, spec in MODELS.items()}
    for key in {entry.model_key for entry in entries} - set(expected):
        if is_reference(key):
            try:
                expected[key] = expected_model_id(get_spec(key), settings)
            except SiglipProjectsError:  # offline and not cached, or a folder since removed
                continue
    return expected
