"""Tiny CLIP (a transformers folder) and NLLB-CLIP (an open_clip `local-dir:` folder) checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.testing.tiny_models.common import CLIP_MEAN_STD, EMBED_DIMS, seed_torch, write_json
from core.testing.tiny_models.siglip import tiny_tower
from core.testing.tiny_models.tokenizers import clip_tokenizer, nllb_tokenizer


def save_clip(
    out: Path, *, seed: int, dim: int, image_size: int, tokenizer: Any = None, family: str = "CLIP"
) -> None:
    """A CLIP-shaped transformers folder: `family` "CLIP" (CLIPModel, CLIP BPE by default) or
    "MetaClip2" (MetaClip2Model); both with a CLIPProcessor."""
    import transformers
    from transformers import CLIPImageProcessor, CLIPProcessor

    tokenizer = tokenizer or clip_tokenizer(num_merges=300)
    config = getattr(transformers, f"{family}Config")(
        text_config=tiny_tower(
            32,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            # CLIP pools at the first EOS (or, with the legacy eos_token_id=2, at the argmax id);
            # MetaCLIP 2 at the first EOS.
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=tiny_tower(32, image_size=image_size, patch_size=8),
        projection_dim=dim,
    )
    seed_torch(seed)
    getattr(transformers, f"{family}Model")(config).eval().save_pretrained(out)
    mean, std = CLIP_MEAN_STD
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=mean,
        image_std=std,
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def build_clip(out: Path, final: Path) -> None:
    """Like openai/clip-vit-base-patch32: CLIPModel + byte-level BPE CLIPTokenizer."""
    save_clip(out, seed=5, dim=EMBED_DIMS["clip"], image_size=32)


def build_nllb_clip(out: Path, final: Path) -> None:
    """Like open_clip's built-in nllb-clip-base, as a `local-dir:` folder that never touches the Hub.

    open_clip's `get_tokenizer("local-dir:...")` always reads the tokenizer from the folder itself, so
    the NLLB tokenizer lives at the top level and `hf_tokenizer_name` points there; the M2M100 text
    config (weights come from the CLIP checkpoint) lives in `m2m100/`.
    """
    from transformers import M2M100Config

    tokenizer = nllb_tokenizer(vocab_size=1200)
    tokenizer.save_pretrained(out)
    M2M100Config(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,  # Built by AutoModel, then dropped: open_clip keeps only the encoder.
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        # No dropout: open_clip does not put models in eval mode, and tests want repeatable outputs.
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    ).save_pretrained(out / "m2m100")

    # Mirrors open_clip/model_configs/nllb-clip-base.json with tiny towers.
    def model_cfg(root: Path) -> dict[str, Any]:
        return {
            "embed_dim": EMBED_DIMS["nllb-clip"],
            "vision_cfg": {
                "image_size": 32,
                "layers": 2,
                "width": 32,
                "head_width": 16,
                "mlp_ratio": 2.0,
                "patch_size": 8,
            },
            "text_cfg": {
                "hf_model_name": str(root / "m2m100"),
                "hf_tokenizer_name": str(root),
                "hf_proj_type": "linear",
                "hf_pooler_type": "cls_pooler",
            },
        }

    build_cfg = model_cfg(out)
    build_cfg["text_cfg"]["hf_model_pretrained"] = False  # Random init from the config, no weight download.
    # Paths point at the final location: the folder is renamed there before anyone loads it.
    save_open_clip(out, build_cfg, model_cfg(final), {"mean": CLIP_MEAN_STD[0], "std": CLIP_MEAN_STD[1]}, 6)


def save_open_clip(
    out: Path, build_cfg: dict[str, Any], model_cfg: dict[str, Any], preprocess: dict[str, Any], seed: int
) -> None:
    """A seeded `CustomTextCLIP(**build_cfg)` as an open_clip `local-dir:` folder: safetensors weights
    and an `open_clip_config.json` of `model_cfg` and `preprocess`."""
    import open_clip
    from safetensors.torch import save_file

    seed_torch(seed)
    model = open_clip.model.CustomTextCLIP(**build_cfg).eval()
    save_file(
        {name: tensor.contiguous() for name, tensor in model.state_dict().items()},
        out / "open_clip_model.safetensors",
    )
    write_json(out / "open_clip_config.json", {"model_cfg": model_cfg, "preprocess_cfg": preprocess})
