"""Tiny SigLIP, SigLIP multilingual, SigLIP 2 and SigLIP 2 NaFlex checkpoints (transformers folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.testing.tiny_models.common import EMBED_DIMS, SIGLIP_MEAN_STD, seed_torch
from core.testing.tiny_models.tokenizers import gemma_tokenizer, mark_gemma_flags, siglip_tokenizer


def tiny_tower(hidden: int, **extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        **extra,
    }


def save_siglip(
    out: Path,
    *,
    seed: int,
    dim: int,
    image_size: int,
    patch_size: int,
    tokenizer: Any,
    pad_id: int,
    eos_id: int,
) -> None:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    config = SiglipConfig(
        text_config=tiny_tower(
            dim,
            vocab_size=len(tokenizer),
            max_position_embeddings=64,  # SigLIP pads every text to 64 tokens.
            projection_size=dim,
            pad_token_id=pad_id,
            bos_token_id=None,  # Never added by either tokenizer; the class default is CLIP's 49406.
            eos_token_id=eos_id,
        ),
        vision_config=tiny_tower(dim, image_size=image_size, patch_size=patch_size),
    )
    seed_torch(seed)
    SiglipModel(config).eval().save_pretrained(out)
    mean, std = SIGLIP_MEAN_STD
    image_processor = SiglipImageProcessor(
        size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std
    )
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def build_siglip(out: Path, final: Path) -> None:
    """Like google/siglip-base-patch16-224: SiglipModel + SentencePiece SiglipTokenizer."""
    tokenizer = siglip_tokenizer(out, vocab_size=256)
    save_siglip(
        out,
        seed=1,
        dim=EMBED_DIMS["siglip"],
        image_size=32,
        patch_size=8,
        tokenizer=tokenizer,
        pad_id=1,
        eos_id=1,
    )


def build_siglip_multilingual(out: Path, final: Path) -> None:
    """Like google/siglip-base-patch16-256-multilingual: same family, other size, vocabulary and seed."""
    tokenizer = siglip_tokenizer(out, vocab_size=320)
    dim = EMBED_DIMS["siglip-multilingual"]
    save_siglip(out, seed=2, dim=dim, image_size=48, patch_size=8, tokenizer=tokenizer, pad_id=1, eos_id=1)


def build_siglip2(out: Path, final: Path) -> None:
    """Like google/siglip2-base-patch16-224: model_type "siglip" (SiglipModel) with a Gemma tokenizer."""
    tokenizer = gemma_tokenizer(vocab_size=800)
    # Gemma ids: <pad>=0, <eos>=1, <bos>=2, <unk>=3, <mask>=4.
    save_siglip(
        out,
        seed=3,
        dim=EMBED_DIMS["siglip2"],
        image_size=32,
        patch_size=8,
        tokenizer=tokenizer,
        pad_id=0,
        eos_id=1,
    )
    mark_gemma_flags(out)


def build_siglip2_naflex(out: Path, final: Path) -> None:
    """Like google/siglip2-base-patch16-naflex: Siglip2Model + Siglip2Processor with a Gemma tokenizer."""
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model, Siglip2Processor

    tokenizer = gemma_tokenizer(vocab_size=800)
    dim = EMBED_DIMS["siglip2-naflex"]
    config = Siglip2Config(
        text_config=tiny_tower(
            dim,
            vocab_size=len(tokenizer),
            max_position_embeddings=64,
            projection_size=dim,
            pad_token_id=0,
            bos_token_id=None,
            eos_token_id=1,
        ),
        # Siglip2Processor forces 16px patches at call time, so the model must use them too.
        vision_config=tiny_tower(dim, patch_size=16, num_patches=256),
    )
    seed_torch(4)
    Siglip2Model(config).eval().save_pretrained(out)
    mean, std = SIGLIP_MEAN_STD
    image_processor = Siglip2ImageProcessor(
        patch_size=16, max_num_patches=256, image_mean=mean, image_std=std
    )
    Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    mark_gemma_flags(out)
