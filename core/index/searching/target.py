"""What a request searches: an index opened for one model, resolved and checked once.

`core.index.searching.resolve.open_index` makes a `SearchTarget`: the model's spec looked up once in
the registry, the index's manifest checked once against the checkpoint the settings load, the index
loaded (cached) and its thumbnails served. Searching it embeds queries with that model without
looking anything up or checking anything again.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.encoders import Encoder, get_encoder, is_loaded
from core.index.format.loaded import LoadedIndex
from core.registry import ModelSpec


@dataclass(frozen=True)
class SearchTarget:
    """An index and the model that searches it, checked compatible.

    Attributes:
        index: The loaded index (shared, cached per version).
        spec: The model's registry entry.
        settings: How the model is loaded (its checkpoint, device, precision).
        served: Its thumbnails are served from a fixed address (an index without an owner); a
            collection's are not, and the app hands out copies at unguessable addresses instead.
    """

    index: LoadedIndex
    spec: ModelSpec
    settings: Settings
    served: bool = True

    @property
    def name(self) -> str:
        return self.index.name

    def __len__(self) -> int:
        return len(self.index)

    def encoder(self) -> Encoder:
        """The model, loaded on first use (the index was checked against its checkpoint)."""
        return get_encoder(self.spec, self.settings)

    def model_loaded(self) -> bool:
        """True when a query will not wait for the model to load."""
        return is_loaded(self.spec, self.settings)


#: What the search functions take: an index opened for a model, or a loaded index (whose own model
#: key is then looked up and checked when a query is embedded).
Searchable = LoadedIndex | SearchTarget


def loaded_of(index: Searchable) -> LoadedIndex:
    """The loaded index of a target, or the index itself."""
    return index.index if isinstance(index, SearchTarget) else index
