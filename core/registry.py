"""The one list of models. The UI, the CLI and the README are generated from it.

Each model has one or more *slots* (one per separately loaded checkpoint): a single-tower model has
one slot named like its key; multilingual CLIP has `mclip-image` and `mclip-text`. Every slot can be
pointed at another Hub id or a local folder by the environment variable `SIGLIP_PROJECTS_MODEL_<SLOT>`
or by `python app.py --model SLOT=VALUE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import UnknownModelError
from core.limits import quote

Backend = Literal["transformers", "open_clip", "sentence-transformers"]
Scoring = Literal["sigmoid", "softmax"]

MODEL_ENV_PREFIX = "SIGLIP_PROJECTS_MODEL_"
#: The model used wherever none is chosen: index builds, the drawing search, `classify`.
DEFAULT_MODEL_KEY = "siglip"


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


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec(
            key="siglip",
            name="SigLIP",
            family="SigLIP",
            backend="transformers",
            towers=(("", "google/siglip-base-patch16-224"),),
            scoring="sigmoid",
            languages="English",
            good_for="English text-to-image search and zero-shot labels; the default for drawing search.",
        ),
        ModelSpec(
            key="siglip2",
            name="SigLIP 2",
            family="SigLIP 2",
            backend="transformers",
            towers=(("", "google/siglip2-base-patch16-224"),),
            scoring="sigmoid",
            languages="Multilingual (trained on WebLI in 100+ languages)",
            good_for="Better image-text matching than SigLIP, in many languages, "
            "at a fixed 224x224 resolution.",
            lowercase_texts=True,
        ),
        ModelSpec(
            key="siglip2-naflex",
            name="SigLIP 2 NaFlex",
            family="SigLIP 2 NaFlex",
            backend="transformers",
            towers=(("", "google/siglip2-base-patch16-naflex"),),
            scoring="sigmoid",
            languages="Multilingual (trained on WebLI in 100+ languages)",
            good_for="Images of unusual aspect ratio (documents, panoramas, tall paintings): "
            "keeps the native aspect ratio with a variable number of patches.",
            native_resolution=True,
            lowercase_texts=True,
        ),
        ModelSpec(
            key="siglip-multilingual",
            name="SigLIP multilingual",
            family="SigLIP",
            backend="transformers",
            towers=(("", "google/siglip-base-patch16-256-multilingual"),),
            scoring="sigmoid",
            languages="Multilingual (100+ languages)",
            good_for="Zero-shot labels and search with text in many languages and scripts.",
        ),
        ModelSpec(
            key="clip",
            name="CLIP",
            family="CLIP",
            backend="transformers",
            towers=(("", "openai/clip-vit-base-patch16"),),
            scoring="softmax",
            languages="English",
            good_for="The classic baseline: probabilities that sum to 1 over the given labels.",
        ),
        ModelSpec(
            key="nllb-clip",
            name="NLLB-CLIP",
            family="NLLB-CLIP",
            backend="open_clip",
            towers=(("", "nllb-clip-base"),),
            scoring="softmax",
            languages="Multilingual (the 200 languages of NLLB; needs the source-language code)",
            good_for="Low-resource languages: the NLLB-200 text encoder covers 200 languages.",
            pretrained_tag="v1",
        ),
        ModelSpec(
            key="mclip",
            name="Multilingual CLIP",
            family="Multilingual CLIP",
            backend="sentence-transformers",
            towers=(
                ("image", "sentence-transformers/clip-ViT-B-32"),
                ("text", "sentence-transformers/clip-ViT-B-32-multilingual-v1"),
            ),
            scoring="softmax",
            languages="Multilingual (50+ languages, distilled from CLIP's English text tower)",
            good_for="Multilingual text against CLIP ViT-B/32 image embeddings.",
        ),
    )
}


def get_spec(key: str) -> ModelSpec:
    """Return the spec of `key`.

    Raises:
        UnknownModelError: `key` is not in the registry; the message lists the keys that are.
    """
    if isinstance(key, str) and key in MODELS:
        return MODELS[key]
    raise UnknownModelError(f"Unknown model {quote(key)}. Known models: {', '.join(MODELS)}.")


def spec_of(model: str | ModelSpec) -> ModelSpec:
    """`model` itself when it is a spec (looked up once by the caller), else `get_spec(model)`.

    Raises:
        UnknownModelError: as `get_spec`.
    """
    return model if isinstance(model, ModelSpec) else get_spec(model)


def all_slots() -> dict[str, str]:
    """Every override slot of every model, mapped to its default checkpoint."""
    return {slot: default for spec in MODELS.values() for slot, default in spec.slots().items()}


def sources_id(sources: Mapping[str, str]) -> str:
    """The checkpoint(s) of resolved `sources` as one string (recorded in index manifests)."""
    return " + ".join(f"{tower}={source}" if tower else source for tower, source in sources.items())


def resolve_sources(spec: ModelSpec, overrides: Mapping[str, str]) -> dict[str, str]:
    """Map each tower of `spec` to the checkpoint to load: the override if set, else the default."""
    return {tower: overrides.get(slot_name(spec.key, tower)) or default for tower, default in spec.towers}
