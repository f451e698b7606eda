"""What one model of the registry is: `ModelSpec`, and the names of its override slots.

Kept apart from the list itself (`core.registry`) so that the curated presets (`core.presets`) can be
written as specs too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MODEL_ENV_PREFIX = "SIGLIP_PROJECTS_MODEL_"

Backend = Literal["transformers", "open_clip", "sentence-transformers"]
Scoring = Literal["sigmoid", "softmax"]


@dataclass(frozen=True)
class ModelSpec:
    """One model of the registry.

    Attributes:
        key: Stable name used in the CLI, the API and index manifests.
        name: Display name.
        family: Family label shown to users (and used by the encoder factory).
        backend: Library that loads it.
        towers: (tower, default checkpoint) pairs; tower "" means a single checkpoint.
        scoring: How zero-shot label scores are made: an independent sigmoid per label, or a
            softmax over the labels.
        languages: Languages its text tower understands, in words.
        good_for: What it is good at, one sentence.
        pretrained_tag: open_clip pretrained tag used with the default model name.
        native_resolution: True when images keep their aspect ratio (NaFlex).
        lowercase_texts: Texts are lowercased before tokenizing, as in the model's training (SigLIP 2,
            whose big_vision text pipeline lowercases). transformers does it only for checkpoints of
            `model_type` `siglip2` (NaFlex, through `Siglip2Tokenizer`), not for the fixed-resolution
            SigLIP 2 checkpoints (`model_type` `siglip` with a Gemma tokenizer): here every SigLIP 2
            key does.
        reference: A checkpoint named by reference rather than a registry entry; it has no override
            slot (the reference itself says what to load).
        preset: A curated larger or newer checkpoint (`core.presets`): offered for evaluation and
            indexes, loaded only when asked for, never by the demo tabs or an evaluation naming no model.
        published: Its published zero-shot figures with their source, as Markdown ("" when none).
    """

    key: str
    name: str
    family: str
    backend: Backend
    towers: tuple[tuple[str, str], ...]
    scoring: Scoring
    languages: str
    good_for: str
    pretrained_tag: str | None = None
    native_resolution: bool = False
    lowercase_texts: bool = False
    reference: bool = False
    preset: bool = False
    published: str = ""

    @property
    def multilingual(self) -> bool:
        return self.languages != "English"

    def slots(self) -> dict[str, str]:
        """Map each override slot name (`siglip`, `mclip-image`...) to its default checkpoint."""
        return {slot_name(self.key, tower): default for tower, default in self.towers}

    def default_id(self) -> str:
        """The default checkpoint(s) as one human-readable string."""
        if len(self.towers) == 1:
            default = self.towers[0][1]
            return f"{default} (pretrained `{self.pretrained_tag}`)" if self.pretrained_tag else default
        return " + ".join(f"{default} ({tower})" for tower, default in self.towers)


def slot_name(key: str, tower: str) -> str:
    return f"{key}-{tower}" if tower else key


def env_var(slot: str) -> str:
    """`mclip-image` -> `SIGLIP_PROJECTS_MODEL_MCLIP_IMAGE`."""
    return MODEL_ENV_PREFIX + slot.upper().replace("-", "_")
