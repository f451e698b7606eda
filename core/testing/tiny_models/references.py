"""Tiny checkpoints of the families a user names by reference (no registry slot of their own).

- `metaclip2`: a transformers `MetaClip2Model` folder (CLIP processor, XLM-R tokenizer), like
  facebook/metaclip-2-worldwide-*.
- `open-clip-pe-core`: an open_clip `local-dir:` folder shaped like open_clip's `PE-Core-B-16` config
  (a timm PE vision trunk with attention pooling, a CLIP-BPE text tower of context 32).
- `open-clip-siglip2`: one shaped like `ViT-B-16-SigLIP2` (a timm SigLIP trunk with MAP pooling, a
  non-causal text tower pooled at the last token, a Gemma tokenizer in the folder, a logit bias).

The open_clip configs name tiny timm trunks that `register_tiny_timm()` registers in the calling
process (timm's own architectures, with fewer and narrower layers); call it before loading them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from core.testing.tiny_models.clip import save_clip, save_open_clip
from core.testing.tiny_models.common import SIGLIP_MEAN_STD
from core.testing.tiny_models.tokenizers import _train, gemma_tokenizer

#: Bump whenever a builder here changes (part of the cache path).
REFERENCES_VERSION = "1"
#: Embedding dimension of each (different from every slot's, so mix-ups fail loudly).
REFERENCE_DIMS = {"metaclip2": 20, "open-clip-pe-core": 36, "open-clip-siglip2": 44}
PE_TRUNK = "vit_pe_core_tiny_test_patch8_32"
SIGLIP_TRUNK = "vit_siglip_tiny_test_patch8_32"


@functools.cache
def register_tiny_timm() -> None:
    """Register the two tiny timm trunks (once per process): timm's PE-Core and SigLIP ViTs, 2 layers
    of width 32 (SigLIP: 44) on 32x32 images in 8x8 patches."""
    from timm.models import eva, register_model, vision_transformer

    small = {"embed_dim": 32, "depth": 2, "num_heads": 2, "img_size": 32, "patch_size": 8}

    def vit_pe_core_tiny_test_patch8_32(pretrained: bool = False, **kwargs: Any) -> Any:
        extra = {"attn_pool_num_heads": 2, "ref_feat_shape": (4, 4)}
        return eva.vit_pe_core_base_patch16_224(pretrained=False, **{**small, **extra, **kwargs})

    def vit_siglip_tiny_test_patch8_32(pretrained: bool = False, **kwargs: Any) -> Any:
        # Its width is the embedding's: open_clip's SigLIP configs use the trunk's output as is.
        width = {"embed_dim": REFERENCE_DIMS["open-clip-siglip2"]}
        return vision_transformer.vit_base_patch16_siglip_224(
            pretrained=False, **{**small, **width, **kwargs}
        )

    for function in (vit_pe_core_tiny_test_patch8_32, vit_siglip_tiny_test_patch8_32):
        function.__module__ = __name__
        register_model(function)


def build_metaclip2(out: Path, final: Path) -> None:
    """Like facebook/metaclip-2-worldwide-s16: MetaClip2Model + CLIPProcessor with an XLM-R tokenizer."""
    from transformers import XLMRobertaTokenizer

    tokenizer = _train(XLMRobertaTokenizer(model_max_length=77), 400)
    dim = REFERENCE_DIMS["metaclip2"]
    save_clip(out, seed=7, dim=dim, image_size=32, tokenizer=tokenizer, family="MetaClip2")


def _save_open_clip(out: Path, model_cfg: dict[str, Any], seed: int) -> None:
    register_tiny_timm()
    built = {key: value for key, value in model_cfg.items() if key != "custom_text"}
    mean, std = SIGLIP_MEAN_STD
    save_open_clip(out, built, model_cfg, {"mean": mean, "std": std, "interpolation": "bicubic"}, seed)


def build_open_clip_pe_core(out: Path, final: Path) -> None:
    """Mirrors open_clip/model_configs/PE-Core-B-16.json with a tiny trunk and text tower."""
    model_cfg = {
        "embed_dim": REFERENCE_DIMS["open-clip-pe-core"],
        "vision_cfg": {
            "image_size": 32,
            "timm_model_name": PE_TRUNK,
            "timm_model_pretrained": False,
            "timm_pool": "map",
            "timm_proj": None,
        },
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
        "custom_text": True,
    }
    _save_open_clip(out, model_cfg, seed=8)


def build_open_clip_siglip2(out: Path, final: Path) -> None:
    """Mirrors open_clip/model_configs/ViT-B-16-SigLIP2.json with a tiny trunk, text tower and Gemma
    tokenizer (open_clip reads a `local-dir:` model's tokenizer from the folder itself)."""
    tokenizer = gemma_tokenizer(vocab_size=800)
    tokenizer.save_pretrained(out)
    model_cfg = {
        "embed_dim": REFERENCE_DIMS["open-clip-siglip2"],
        "init_logit_bias": -10,
        "custom_text": True,
        "vision_cfg": {
            "image_size": 32,
            "timm_model_name": SIGLIP_TRUNK,
            "timm_model_pretrained": False,
            "timm_pool": "map",
            "timm_proj": "none",
        },
        "text_cfg": {
            "context_length": 64,
            "vocab_size": len(tokenizer),
            "hf_tokenizer_name": "local-dir",  # any name: a local-dir model reads its own folder
            "tokenizer_kwargs": {"clean": "canonicalize"},
            "width": REFERENCE_DIMS["open-clip-siglip2"],
            "heads": 2,
            "layers": 2,
            "no_causal_mask": True,
            "proj_bias": True,
            "pool_type": "last",
            "norm_kwargs": {"eps": 1e-6},
            "act_kwargs": {"approximate": "tanh"},
        },
    }
    _save_open_clip(out, model_cfg, seed=9)
