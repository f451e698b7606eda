"""Tiny, randomly initialised, fully offline checkpoints for every model family the app loads.

`build_tiny_models(root)` writes one folder per slot under `root` and returns `{slot: value}`, where the
value is what the app accepts in place of a Hub id (a directory, or `local-dir:/abs/path` for open_clip).
Everything is seeded, so rebuilding gives identical weights and vocabularies.

Run `python -m tests.tiny_models OUTDIR` to build them and print `export SIGLIP_PROJECTS_MODEL_...=...`
lines for launching the app on tiny models.

Heavy libraries are imported inside the builders so that importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
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

# Small multilingual corpus for training every tokenizer: short captions and zero-shot style labels.
CORPUS: tuple[str, ...] = (
    # English
    "a photo of a cat",
    "a photo of a dog",
    "a photo of a car on the street",
    "a red apple on a wooden table",
    "two people walking on the beach at sunset",
    "a bowl of soup with bread",
    "a drawing of a house with a tree",
    "a bird flying over the mountains",
    "a white cup of coffee",
    "This is a sketch of a bicycle.",
    "The quick brown fox jumps over the lazy dog!",
    "A city skyline at night, with lights.",
    # German
    "ein Foto einer Katze",
    "ein Foto eines Hundes",
    "ein rotes Auto auf der Straße",
    "Zwei Menschen gehen am Strand spazieren.",
    "Eine Schüssel Suppe mit Brot und Käse",
    "Ein Vogel fliegt über die Berge.",
    "Grüße aus München, schöne Größe, fünf Äpfel",
    # French
    "une photo d'un chat",
    "une photo d'un chien",
    "une voiture rouge dans la rue",
    "Deux personnes marchent sur la plage au coucher du soleil.",
    "Un bol de soupe avec du pain",
    "Un oiseau vole au-dessus des montagnes.",
    "Ça, c'est un café très élégant à côté de l'hôtel.",
    # Turkish
    "bir kedinin fotoğrafı",
    "bir köpeğin fotoğrafı",
    "sokakta kırmızı bir araba",
    "Gün batımında sahilde yürüyen iki kişi.",
    "Ekmekli bir kase çorba",
    "Dağların üzerinde uçan bir kuş.",
    "İstanbul'da güzel bir gün, ılık ve güneşli.",
    # Japanese
    "猫の写真",
    "犬の写真",
    "通りにある赤い車",
    "夕日の浜辺を歩く二人。",
    "パンとスープのボウル",
    "山の上を飛ぶ鳥。",
    "東京の夜景はとてもきれいです。",
    # Arabic
    "صورة قطة",
    "صورة كلب",
    "سيارة حمراء في الشارع",
    "شخصان يمشيان على الشاطئ عند غروب الشمس.",
    "وعاء من الحساء مع الخبز",
    "طائر يطير فوق الجبال.",
    # Chinese
    "一只猫的照片",
    "一只狗的照片",
    "街上的一辆红色汽车",
    "两个人在日落时沿着海滩散步。",
    "一碗汤和面包",
    "一只鸟飞过群山。",
    # Russian
    "фотография кошки",
    "фотография собаки",
    "красная машина на улице",
    "Два человека гуляют по пляжу на закате.",
    "Миска супа с хлебом",
    "Птица летит над горами.",
    # Emoji
    "🐱 a cat 😺",
    "🐶 ein Hund 🐕",
    "🚗 une voiture 🚙",
    "🍎 elma 🍏 りんご 🍏",
    "🌅 日落 🏖️ закат",
    "❤️ 👍 🎉 ✨ 🌍",
)

_SIGLIP_MEAN_STD = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
_CLIP_MEAN_STD = (
    [0.48145466, 0.4578275, 0.40821073],
    [0.26862954, 0.26130258, 0.27577711],
)


def env_var_name(slot: str) -> str:
    """Environment variable through which the app takes the model for `slot`."""
    return ENV_PREFIX + slot.upper().replace("-", "_")


def build_tiny_models(root: Path | str) -> dict[str, str]:
    """Build every tiny checkpoint under root (idempotent: reuse if already complete) and return
    {slot: value} where the value is what the app accepts in place of a Hub id."""
    base = Path(root).expanduser().resolve() / f"tiny-models-v{BUILDER_VERSION}"
    base.mkdir(parents=True, exist_ok=True)
    missing = [slot for slot in SLOTS if not _is_complete(slot, base / slot)]
    if missing:
        with _quiet_transformers():
            for slot in missing:
                _build_atomically(base / slot, _BUILDERS[slot])
    return {slot: f"local-dir:{base / slot}" if slot == "nllb-clip" else str(base / slot) for slot in SLOTS}


# --------------------------------------------------------------------------------------------------
# Build bookkeeping


_Builder = Callable[[Path, Path], None]


def _is_complete(slot: str, final: Path) -> bool:
    if not final.is_dir():
        return False
    if slot == "nllb-clip":
        # The open_clip config holds absolute paths; a cache that was moved must be rebuilt.
        config_path = final / "open_clip_config.json"
        if not config_path.is_file():
            return False
        config = json.loads(config_path.read_text(encoding="utf-8"))
        text_cfg = config["model_cfg"]["text_cfg"]
        return Path(text_cfg["hf_model_name"]).is_dir() and Path(text_cfg["hf_tokenizer_name"]).is_dir()
    return True


def _build_atomically(final: Path, builder: _Builder) -> None:
    """Build into a sibling temp dir and rename it into place, so a folder that exists is complete."""
    if final.exists():  # Incomplete (e.g. a moved nllb-clip cache): start over.
        shutil.rmtree(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        builder(tmp, final)
        try:
            tmp.rename(final)
        except OSError:
            # A concurrent build (e.g. another pytest-xdist worker) won the race; theirs is identical.
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
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


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _batches(texts: tuple[str, ...], size: int = 16) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# Tokenizers


def _sentencepiece_model(vocab_size: int) -> bytes:
    """A unigram SentencePiece model with T5/SigLIP ids: <pad>=0, </s>=1, <unk>=2, no BOS."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        # SiglipTokenizer lower-cases before encoding, so train on what it will see.
        sentence_iterator=iter([text.lower() for text in CORPUS]),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,  # The corpus is too small to always reach vocab_size.
        character_coverage=1.0,
        byte_fallback=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,  # Deterministic.
        minloglevel=2,
    )
    return model.getvalue()


def _siglip_tokenizer(workdir: Path, vocab_size: int) -> Any:
    from transformers import SiglipTokenizer

    # Written straight into the checkpoint folder; save_pretrained into the same folder keeps it.
    spiece = workdir / "spiece.model"
    spiece.write_bytes(_sentencepiece_model(vocab_size))
    return SiglipTokenizer(vocab_file=str(spiece), model_max_length=64)


def _train(template: Any, vocab_size: int) -> Any:
    """Retrain a tokenizers-backed template on CORPUS, keeping its pipeline and special tokens.

    Only for templates without a continuing-subword prefix or end-of-word suffix: with those, the
    `tokenizers` trainer numbers symbols in hash-map order, so ids and merges change from run to run.
    """
    return template.train_new_from_iterator(_batches(CORPUS), vocab_size=vocab_size, show_progress=False)


def _gemma_tokenizer(vocab_size: int) -> Any:
    """Gemma-style BPE as shipped with SigLIP 2: EOS appended, no BOS, padded on the right."""
    from transformers import GemmaTokenizer

    return _train(
        GemmaTokenizer(add_bos_token=False, add_eos_token=True, padding_side="right", model_max_length=64),
        vocab_size,
    )


def _mark_gemma_flags(out: Path) -> None:
    """Write the hub's `add_bos_token`/`add_eos_token` flags, which transformers 5 leaves out on save.

    Loading ignores them when `tokenizer.json` exists (its post-processor already appends EOS); they are
    there only so the files look like google/siglip2-*.
    """
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(add_bos_token=False, add_eos_token=True)
    _write_json(path, config)


def _nllb_tokenizer(vocab_size: int) -> Any:
    from transformers import NllbTokenizer

    # The template carries all 202 language codes as special tokens; training keeps them.
    return _train(NllbTokenizer(src_lang="eng_Latn", model_max_length=1024), vocab_size)


def _pre_tokenized_words(template: Any) -> Counter[str]:
    """Word counts of CORPUS after the template's own normalizer and pre-tokenizer."""
    backend = template.backend_tokenizer
    words: Counter[str] = Counter()
    for text in CORPUS:
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        words.update(word for word, _ in backend.pre_tokenizer.pre_tokenize_str(normalized))
    return words


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP byte-level alphabet, in CLIP's vocabulary order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _learn_bpe(words: Counter[tuple[str, ...]], num_merges: int) -> list[tuple[str, str]]:
    """Plain BPE with deterministic tie-breaking (count, then the pair itself)."""
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in words.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged: Counter[tuple[str, ...]] = Counter()
        for symbols, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    return merges


def _clip_tokenizer(num_merges: int) -> Any:
    """Byte-level BPE with CLIP's layout: bytes, bytes+</w>, merges, then <|startoftext|> <|endoftext|>."""
    from transformers import CLIPTokenizer

    words = Counter(
        {(*word[:-1], word[-1] + "</w>"): n for word, n in _pre_tokenized_words(CLIPTokenizer()).items()}
    )
    merges = _learn_bpe(words, num_merges)
    alphabet = _bytes_to_unicode()
    tokens = [*alphabet, *(c + "</w>" for c in alphabet), *dict.fromkeys(a + b for a, b in merges)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, model_max_length=77)


def _wordpiece_tokenizer() -> Any:
    """Cased multilingual WordPiece like distilbert-base-multilingual-cased: every corpus word, plus
    every character alone and as a `##` continuation, so nothing in CORPUS maps to [UNK]."""
    from transformers import DistilBertTokenizer

    template = DistilBertTokenizer(do_lower_case=False)
    words = _pre_tokenized_words(template)
    chars = sorted({c for word in words for c in word})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    tokens += sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    return DistilBertTokenizer(
        vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=False, model_max_length=512
    )


# --------------------------------------------------------------------------------------------------
# Transformers checkpoints


def _tiny_tower(hidden: int, **extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        **extra,
    }


def _save_siglip(
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
        text_config=_tiny_tower(
            dim,
            vocab_size=len(tokenizer),
            max_position_embeddings=64,  # SigLIP pads every text to 64 tokens.
            projection_size=dim,
            pad_token_id=pad_id,
            bos_token_id=None,  # Never added by either tokenizer; the class default is CLIP's 49406.
            eos_token_id=eos_id,
        ),
        vision_config=_tiny_tower(dim, image_size=image_size, patch_size=patch_size),
    )
    _seed(seed)
    SiglipModel(config).eval().save_pretrained(out)
    mean, std = _SIGLIP_MEAN_STD
    image_processor = SiglipImageProcessor(
        size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std
    )
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def _build_siglip(out: Path, final: Path) -> None:
    """Like google/siglip-base-patch16-224: SiglipModel + SentencePiece SiglipTokenizer."""
    tokenizer = _siglip_tokenizer(out, vocab_size=256)
    _save_siglip(
        out,
        seed=1,
        dim=EMBED_DIMS["siglip"],
        image_size=32,
        patch_size=8,
        tokenizer=tokenizer,
        pad_id=1,
        eos_id=1,
    )


def _build_siglip_multilingual(out: Path, final: Path) -> None:
    """Like google/siglip-base-patch16-256-multilingual: same family, other size, vocabulary and seed."""
    tokenizer = _siglip_tokenizer(out, vocab_size=320)
    dim = EMBED_DIMS["siglip-multilingual"]
    _save_siglip(out, seed=2, dim=dim, image_size=48, patch_size=8, tokenizer=tokenizer, pad_id=1, eos_id=1)


def _build_siglip2(out: Path, final: Path) -> None:
    """Like google/siglip2-base-patch16-224: model_type "siglip" (SiglipModel) with a Gemma tokenizer."""
    tokenizer = _gemma_tokenizer(vocab_size=800)
    # Gemma ids: <pad>=0, <eos>=1, <bos>=2, <unk>=3, <mask>=4.
    _save_siglip(
        out,
        seed=3,
        dim=EMBED_DIMS["siglip2"],
        image_size=32,
        patch_size=8,
        tokenizer=tokenizer,
        pad_id=0,
        eos_id=1,
    )
    _mark_gemma_flags(out)


def _build_siglip2_naflex(out: Path, final: Path) -> None:
    """Like google/siglip2-base-patch16-naflex: Siglip2Model + Siglip2Processor with a Gemma tokenizer."""
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model, Siglip2Processor

    tokenizer = _gemma_tokenizer(vocab_size=800)
    dim = EMBED_DIMS["siglip2-naflex"]
    config = Siglip2Config(
        text_config=_tiny_tower(
            dim,
            vocab_size=len(tokenizer),
            max_position_embeddings=64,
            projection_size=dim,
            pad_token_id=0,
            bos_token_id=None,
            eos_token_id=1,
        ),
        # Siglip2Processor forces 16px patches at call time, so the model must use them too.
        vision_config=_tiny_tower(dim, patch_size=16, num_patches=256),
    )
    _seed(4)
    Siglip2Model(config).eval().save_pretrained(out)
    mean, std = _SIGLIP_MEAN_STD
    image_processor = Siglip2ImageProcessor(
        patch_size=16, max_num_patches=256, image_mean=mean, image_std=std
    )
    Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    _mark_gemma_flags(out)


def _save_clip(out: Path, *, seed: int, dim: int, image_size: int) -> None:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _clip_tokenizer(num_merges=300)
    config = CLIPConfig(
        text_config=_tiny_tower(
            32,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            # CLIP pools at the first EOS (or, with the legacy eos_token_id=2, at the argmax id).
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=_tiny_tower(32, image_size=image_size, patch_size=8),
        projection_dim=dim,
    )
    _seed(seed)
    CLIPModel(config).eval().save_pretrained(out)
    mean, std = _CLIP_MEAN_STD
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=mean,
        image_std=std,
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def _build_clip(out: Path, final: Path) -> None:
    """Like openai/clip-vit-base-patch32: CLIPModel + byte-level BPE CLIPTokenizer."""
    _save_clip(out, seed=5, dim=EMBED_DIMS["clip"], image_size=32)


# --------------------------------------------------------------------------------------------------
# open_clip NLLB-CLIP


def _build_nllb_clip(out: Path, final: Path) -> None:
    """Like open_clip's built-in nllb-clip-base, as a `local-dir:` folder that never touches the Hub.

    open_clip's `get_tokenizer("local-dir:...")` always reads the tokenizer from the folder itself, so
    the NLLB tokenizer lives at the top level and `hf_tokenizer_name` points there; the M2M100 text
    config (weights come from the CLIP checkpoint) lives in `m2m100/`.
    """
    import open_clip
    from safetensors.torch import save_file
    from transformers import M2M100Config

    tokenizer = _nllb_tokenizer(vocab_size=1200)
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
    _seed(6)
    model = open_clip.model.CustomTextCLIP(**build_cfg).eval()
    save_file(
        {name: tensor.contiguous() for name, tensor in model.state_dict().items()},
        out / "open_clip_model.safetensors",
    )
    mean, std = _CLIP_MEAN_STD
    # Paths point at the final location: the folder is renamed there before anyone loads it.
    _write_json(
        out / "open_clip_config.json",
        {"model_cfg": model_cfg(final), "preprocess_cfg": {"mean": mean, "std": std}},
    )


# --------------------------------------------------------------------------------------------------
# sentence-transformers multilingual CLIP (hand-written hub layout, as in the sentence-transformers repos)


def _build_mclip_image(out: Path, final: Path) -> None:
    """Like sentence-transformers/clip-ViT-B-32: one CLIPModel module in `0_CLIPModel/`."""
    _save_clip(out / "0_CLIPModel", seed=7, dim=EMBED_DIMS["mclip-image"], image_size=32)
    _write_json(
        out / "modules.json",
        [{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}],
    )


def _build_mclip_text(out: Path, final: Path) -> None:
    """Like sentence-transformers/clip-ViT-B-32-multilingual-v1: DistilBERT, mean pooling, then a
    Dense layer into the CLIP space of mclip-image."""
    import torch
    from safetensors.torch import save_file
    from transformers import DistilBertConfig, DistilBertModel

    hidden, dim = 32, EMBED_DIMS["mclip-text"]
    tokenizer = _wordpiece_tokenizer()
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
    _seed(8)
    DistilBertModel(config).eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 128, "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    _write_json(
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
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        ],
    )


_BUILDERS: dict[str, _Builder] = {
    "siglip": _build_siglip,
    "siglip-multilingual": _build_siglip_multilingual,
    "siglip2": _build_siglip2,
    "siglip2-naflex": _build_siglip2_naflex,
    "clip": _build_clip,
    "nllb-clip": _build_nllb_clip,
    "mclip-image": _build_mclip_image,
    "mclip-text": _build_mclip_text,
}


def main(argv: list[str]) -> int:
    """`python -m tests.tiny_models OUTDIR`: build and print shell exports for the app."""
    if len(argv) != 1:
        print("usage: python -m tests.tiny_models OUTDIR", file=sys.stderr)
        return 2
    for slot, value in build_tiny_models(argv[0]).items():
        print(f"export {env_var_name(slot)}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    # Nothing here needs the Hub; make sure nothing tries (must precede the lazy transformers imports).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main(sys.argv[1:]))
