"""Curated presets: the larger and newer checkpoints people choose between for a real collection.

Each is a registry entry like the demo models (a key, an override slot, a family), marked `preset`:
the Evaluate tab and the command line offer them, index builds take them, and nothing loads one
unless asked. Hub ids and figures were checked against the model cards and the papers' READMEs:
SigLIP 2 in big_vision's README_siglip2.md (ImageNet-1k zero-shot top-1 / COCO text-to-image R@1),
PE-Core in perception_models' apps/pe/README.md (the same two figures; open_clip's `timm/PE-Core-*`
are conversions of those checkpoints), MetaCLIP 2 in the transformers docs and Meta's collection.
"""

from __future__ import annotations

from core.specs import ModelSpec

SIGLIP2_README = (
    "https://github.com/google-research/big_vision/blob/main/big_vision/configs/proj/image_text/"
    "README_siglip2.md"
)
PE_README = "https://github.com/facebookresearch/perception_models/blob/main/apps/pe/README.md"
WEBLI = "Multilingual (trained on WebLI in 100+ languages)"
WORLDWIDE = "Multilingual (MetaCLIP 2 worldwide: 300+ languages)"


def _published(imagenet: float, coco: float, source: str, where: str) -> str:
    return f"IN-1k {imagenet} · COCO T→I R@1 {coco} ([{where}]({source}))"


def siglip2_published(imagenet: float, coco: float) -> str:
    """A SigLIP 2 checkpoint's figures from big_vision's table."""
    return _published(imagenet, coco, SIGLIP2_README, "big_vision")


def _siglip2(
    key: str, name: str, hub_id: str, figures: tuple[float, float], good_for: str, **extra
) -> ModelSpec:
    native = extra.pop("native_resolution", False)
    return ModelSpec(
        key=key, name=name, family="SigLIP 2 NaFlex" if native else "SigLIP 2", backend="transformers",
        towers=(("", hub_id),), scoring="sigmoid", languages=WEBLI, good_for=good_for,
        native_resolution=native, lowercase_texts=True, preset=True,
        published=siglip2_published(*figures),
    )  # fmt: skip


def _pe_core(
    key: str, name: str, open_clip_name: str, figures: tuple[float, float], good_for: str
) -> ModelSpec:
    return ModelSpec(
        key=key, name=name, family="PE-Core", backend="open_clip", towers=(("", open_clip_name),),
        scoring="softmax", languages="English", good_for=good_for, pretrained_tag="meta", preset=True,
        published=_published(*figures, PE_README, "perception_models"),
    )  # fmt: skip


def _metaclip2(key: str, name: str, hub_id: str, good_for: str) -> ModelSpec:
    return ModelSpec(
        key=key, name=name, family="MetaCLIP 2", backend="transformers", towers=(("", hub_id),),
        scoring="softmax", languages=WORLDWIDE, good_for=good_for, preset=True,
        published="not published per size in the sources checked (the paper reports ViT-H/14)",
    )  # fmt: skip


PRESETS: tuple[ModelSpec, ...] = (
    _siglip2(
        "siglip2-large",
        "SigLIP 2 L/16-256",
        "google/siglip2-large-patch16-256",
        (82.5, 54.7),
        "A step up from the base SigLIP 2: a large image tower at 256 px.",
    ),
    _siglip2(
        "siglip2-so400m",
        "SigLIP 2 So400m/14-384",
        "google/siglip2-so400m-patch14-384",
        (84.1, 55.8),
        "SigLIP 2's shape-optimised 400M model at 384 px: finer detail than the L/16 at 256 px.",
    ),
    _siglip2(
        "siglip2-so400m-naflex",
        "SigLIP 2 So400m NaFlex",
        "google/siglip2-so400m-patch16-naflex",
        (83.5, 55.1),
        "So400m at native aspect ratio: documents, panoramas, tall images.",
        native_resolution=True,
    ),
    _siglip2(
        "siglip2-giant",
        "SigLIP 2 giant-opt/16-384",
        "google/siglip2-giant-opt-patch16-384",
        (85.0, 56.1),
        "The most accurate SigLIP 2, and the largest: a model for a GPU.",
    ),
    _pe_core(
        "pe-core-b",
        "PE-Core B/16",
        "PE-Core-B-16",
        (78.4, 50.9),
        "Meta's Perception Encoder at base size: SigLIP 2 B accuracy with a stronger text tower.",
    ),
    _pe_core(
        "pe-core-l",
        "PE-Core L/14-336",
        "PE-Core-L-14-336",
        (83.5, 57.1),
        "Perception Encoder large: the best published COCO text-to-image recall of these presets.",
    ),
    _metaclip2(
        "metaclip2-b16",
        "MetaCLIP 2 B/16",
        "facebook/metaclip-2-worldwide-b16",
        "CLIP trained on worldwide data: labels in any of 300+ languages, softmax like CLIP.",
    ),
    _metaclip2(
        "metaclip2-s16",
        "MetaCLIP 2 S/16",
        "facebook/metaclip-2-worldwide-s16",
        "The small MetaCLIP 2: multilingual labels at a fraction of B/16's image compute.",
    ),
)
