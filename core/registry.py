"""The one list of models. The UI, the CLI and the README are generated from it.

Each model has one or more *slots* (one per separately loaded checkpoint): a single-tower model has
one slot named like its key; multilingual CLIP has `mclip-image` and `mclip-text`. Every slot can be
pointed at another Hub id or a local folder by the environment variable `SIGLIP_PROJECTS_MODEL_<SLOT>`
or by `python app.py --model SLOT=VALUE`.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.checkpoints import Checkpoint, inspect, is_reference
from core.errors import UnknownModelError
from core.limits import quote
from core.presets import PRESETS, siglip2_published
from core.specs import MODEL_ENV_PREFIX, Backend, ModelSpec, Scoring, env_var, slot_name

__all__ = [
    "CORE_MODELS",
    "DEFAULT_MODEL_KEY",
    "MODELS",
    "MODEL_ENV_PREFIX",
    "Backend",
    "ModelSpec",
    "Scoring",
    "all_slots",
    "env_var",
    "get_spec",
    "reference_spec",
    "resolve_sources",
    "slot_name",
    "sources_id",
    "spec_of",
]

#: The model used wherever none is chosen: index builds, the drawing search, `classify`.
DEFAULT_MODEL_KEY = "siglip"


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
            published=siglip2_published(78.2, 52.1),
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
        *PRESETS,
    )
}
#: The models of the demo tabs and of an evaluation that names none: the registry less the presets.
CORE_MODELS: tuple[str, ...] = tuple(key for key, spec in MODELS.items() if not spec.preset)


def get_spec(key: str) -> ModelSpec:
    """Return the spec of `key`: a registry key, or a checkpoint reference (a Hub id, a local folder,
    `open_clip:...`; see `core.checkpoints`), resolved here and nowhere else.

    Raises:
        UnknownModelError: neither a registry key nor a supported reference; the message lists the
            keys and what references are supported.
        ModelLoadError: a reference whose config cannot be read (offline and not cached).
    """
    if isinstance(key, str) and key in MODELS:
        return MODELS[key]
    if is_reference(key):
        return reference_spec(inspect(key))
    raise UnknownModelError(
        f"Unknown model {quote(key)}. Known models: {', '.join(MODELS)}; or a checkpoint reference "
        "(ORG/REPO on the Hub, a local folder, open_clip:NAME@TAG)."
    )


#: (family label, native resolution, lowercased texts) of each kind of referenced checkpoint.
_REFERENCE_FAMILIES: dict[str, tuple[str, bool, bool]] = {
    "siglip": ("SigLIP", False, False),
    "siglip-gemma": ("SigLIP 2", False, True),
    "siglip2": ("SigLIP 2 NaFlex", True, True),
    "clip": ("CLIP", False, False),
    "metaclip_2": ("MetaCLIP 2", False, False),
    "open_clip": ("open_clip", False, False),
}


def reference_spec(checkpoint: Checkpoint) -> ModelSpec:
    """The spec of a referenced checkpoint: its key is the reference, its one tower the exact source
    (pinned to the Hub commit where known); the family decides scoring and text handling."""
    kind = "siglip-gemma" if checkpoint.gemma_tokenizer else checkpoint.model_type
    family, native, lowercase = _REFERENCE_FAMILIES[kind]
    return ModelSpec(
        key=checkpoint.reference,
        name=checkpoint.name,
        family=family,
        backend=checkpoint.backend,
        towers=(("", checkpoint.source),),
        scoring="sigmoid" if checkpoint.sigmoid else "softmax",
        languages="As trained (checkpoint reference)",
        good_for="A checkpoint named by reference.",
        native_resolution=native,
        lowercase_texts=lowercase,
        reference=True,
    )


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
    """Map each tower of `spec` to the checkpoint to load: the override if set, else the default (a
    referenced checkpoint: always its own source)."""
    if spec.reference:
        return dict(spec.towers)
    return {tower: overrides.get(slot_name(spec.key, tower)) or default for tower, default in spec.towers}
