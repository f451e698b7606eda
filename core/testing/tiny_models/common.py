"""What every tiny-checkpoint builder shares: the slots, their sizes, quiet transformers, seeding."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Bump whenever a builder changes: it is part of the cache path, so stale caches are never reused.
BUILDER_VERSION = "2"


SLOTS: tuple[str, ...] = (
    "siglip",
    "siglip-multilingual",
    "siglip2",
    "siglip2-naflex",
    "clip",
    "nllb-clip",
    "mclip-image",
    "mclip-text",
)


# Embedding dimension of each slot: all different, so that mixing up models or indexes fails loudly.
EMBED_DIMS: dict[str, int] = {
    "siglip": 32,
    "siglip-multilingual": 48,
    "siglip2": 64,
    "siglip2-naflex": 40,
    "clip": 24,
    "nllb-clip": 16,
    "mclip-image": 28,
    "mclip-text": 28,
}


# Image side each slot's processor produces (naflex instead resizes to fit `max_num_patches` 16px patches).
IMAGE_SIZES: dict[str, int] = {
    "siglip": 32,
    "siglip-multilingual": 48,
    "siglip2": 32,
    "clip": 32,
    "nllb-clip": 32,
    "mclip-image": 32,
}


# NLLB language codes the tests rely on (the tokenizer knows all 202 FLORES-200 codes).
#
# Choosing the language with open_clip 3.3 + transformers 5: `tok = open_clip.get_tokenizer(value)` is
# an HFTokenizer around an NllbTokenizer. Set `tok.tokenizer.src_lang = "fra_Latn"` before calling
# `tok(texts)`, or pass `src_lang="fra_Latn"` to `get_tokenizer`. Do NOT rely on `tok.set_language(...)`
# or `get_tokenizer(..., language=...)`: they call `set_src_lang_special_tokens`, which transformers 5
# undoes on every call (it re-applies `src_lang`), so the text silently stays eng_Latn. The language
# token comes first in the ids, and NLLB-CLIP pools that first position, so it changes the embedding.
NLLB_LANGUAGES: dict[str, str] = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "tr": "tur_Latn",
    "ja": "jpn_Jpan",
    "ar": "arb_Arab",
    "zh": "zho_Hans",
    "ru": "rus_Cyrl",
}


ENV_PREFIX = "SIGLIP_PROJECTS_MODEL_"


SIGLIP_MEAN_STD = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])


CLIP_MEAN_STD = (
    [0.48145466, 0.4578275, 0.40821073],
    [0.26862954, 0.26130258, 0.27577711],
)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' progress bars and info/warning logs while building; restore them after."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def batches(texts: tuple[str, ...], size: int = 16) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


def seed_torch(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
