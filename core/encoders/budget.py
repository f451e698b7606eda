"""How much memory the loaded models may take together: the least recently used make room for a new one.

A model's size is the bytes of the tensors (parameters and buffers, each counted once) of every torch
module its encoder holds, measured once it is loaded. The budget is the `loaded_models_gb` setting, or
by default `DEFAULT_SHARE` of the machine's memory. A model larger than the whole budget is refused,
with both sizes; its size is remembered, so asking again is refused without loading it again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable

from core.errors import ModelLoadError

#: Share of the machine's physical memory the loaded models may take when the setting is 0 (auto):
#: the rest is for the app itself, images in flight, indexes and the operating system.
DEFAULT_SHARE = 0.6
GB = 2**30


def machine_memory() -> int:
    """Physical memory of the machine in bytes (16 GB where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # not POSIX
        return 16 * GB


def budget_bytes(loaded_models_gb: float) -> int:
    """The budget in bytes: the setting, or `DEFAULT_SHARE` of the machine's memory when it is 0."""
    return int(loaded_models_gb * GB) if loaded_models_gb > 0 else int(DEFAULT_SHARE * machine_memory())


def model_bytes(encoder: object) -> int:
    """Bytes of the tensors of every torch module `encoder` holds (shared tensors counted once)."""
    import torch

    seen: set[int] = set()
    total = 0
    for value in vars(encoder).values():
        if not isinstance(value, torch.nn.Module):
            continue
        for tensor in (*value.parameters(), *value.buffers()):
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                total += tensor.numel() * tensor.element_size()
    return total


def show(size: int) -> str:
    return f"{size / GB:.2f} GB" if size >= GB / 10 else f"{size / 2**20:.1f} MB"


class LoadedModels:
    """The loaded models' sizes in order of use, least recent first (not thread-safe: the loader locks)."""

    def __init__(self) -> None:
        self.sizes: OrderedDict[Hashable, int] = OrderedDict()
        #: Sizes of models refused as too large, so a second request fails without a load.
        self.refused: dict[Hashable, int] = {}

    def touch(self, key: Hashable) -> None:
        if key in self.sizes:
            self.sizes.move_to_end(key)

    def check(self, key: Hashable, name: str, budget: int) -> None:
        """Raises: ModelLoadError: `key` was measured before and is larger than `budget`."""
        if key in self.refused and self.refused[key] > budget:
            raise too_large(name, self.refused[key], budget)

    def admit(self, key: Hashable, name: str, size: int, budget: int) -> list[Hashable]:
        """Make room for a model of `size` bytes: return the keys to unload (least recently used first)
        and record the new one as the most recent.

        Raises:
            ModelLoadError: `size` alone is larger than `budget`.
        """
        if size > budget:
            self.refused[key] = size
            raise too_large(name, size, budget)
        evicted = []
        while self.sizes and sum(self.sizes.values()) + size > budget:
            evicted.append(self.sizes.popitem(last=False)[0])
        self.sizes[key] = size
        return evicted

    def drop(self, key: Hashable) -> None:
        self.sizes.pop(key, None)

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def too_large(name: str, size: int, budget: int) -> ModelLoadError:
    return ModelLoadError(
        f"Model {name} takes {show(size)} in memory, more than the {show(budget)} all loaded models may "
        "take on this machine. Raise SIGLIP_PROJECTS_LOADED_MODELS_GB (or --loaded-models-gb) if the "
        "machine has the memory, or choose a smaller model."
    )
