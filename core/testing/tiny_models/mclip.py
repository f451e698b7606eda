"""Tiny multilingual CLIP: a sentence-transformers image model and its distilled text model."""

from __future__ import annotations

from pathlib import Path

from core.testing.tiny_models.clip import save_clip
from core.testing.tiny_models.common import EMBED_DIMS, seed_torch, write_json
from core.testing.tiny_models.tokenizers import wordpiece_tokenizer


def build_mclip_image(out: Path, final: Path) -> None:
    """Like sentence-transformers/clip-ViT-B-32: one CLIPModel module in `0_CLIPModel/`."""
    save_clip(out / "0_CLIPModel", seed=7, dim=EMBED_DIMS["mclip-image"], image_size=32)
    write_json(
        out / "modules.json",
        [{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}],
    )


def build_mclip_text(out: Path, final: Path) -> None:
    """Like sentence-transformers/clip-ViT-B-32-multilingual-v1: DistilBERT, mean pooling, then a
    Dense layer into the CLIP space of mclip-image."""
    import torch
    from safetensors.torch import save_file
    from transformers import DistilBertConfig, DistilBertModel

    hidden, dim = 32, EMBED_DIMS["mclip-text"]
    tokenizer = wordpiece_tokenizer()
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=hidden,
        hidden_dim=2 * hidden,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=128,
        dropout=0.0,  # Repeatable outputs even if a caller forgets eval().
        attention_dropout=0.0,
        pad_token_id=tokenizer.pad_token_id,
    )
    seed_torch(8)
    DistilBertModel(config).eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_json(out / "sentence_bert_config.json", {"max_seq_length": 128, "do_lower_case": False})
    write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    write_json(
        out / "2_Dense" / "config.json",
        {
            "in_features": hidden,
            "out_features": dim,
            "bias": False,
            "activation_function": "torch.nn.modules.linear.Identity",
        },
    )
    generator = torch.Generator().manual_seed(9)
    weight = torch.randn(dim, hidden, generator=generator) / hidden**0.5
    save_file({"linear.weight": weight}, out / "2_Dense" / "model.safetensors")
    write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        ],
    )
