"""Tiny tokenizers trained on the corpus: SentencePiece (SigLIP), Gemma (SigLIP 2), NLLB, CLIP BPE,
WordPiece."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from core.testing.tiny_models.common import batches, write_json
from core.testing.tiny_models.corpus import CORPUS


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


def siglip_tokenizer(workdir: Path, vocab_size: int) -> Any:
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
    return template.train_new_from_iterator(batches(CORPUS), vocab_size=vocab_size, show_progress=False)


def gemma_tokenizer(vocab_size: int) -> Any:
    """Gemma-style BPE as shipped with SigLIP 2: EOS appended, no BOS, padded on the right."""
    from transformers import GemmaTokenizer

    return _train(
        GemmaTokenizer(add_bos_token=False, add_eos_token=True, padding_side="right", model_max_length=64),
        vocab_size,
    )


def mark_gemma_flags(out: Path) -> None:
    """Write the hub's `add_bos_token`/`add_eos_token` flags, which transformers 5 leaves out on save.

    Loading ignores them when `tokenizer.json` exists (its post-processor already appends EOS); they are
    there only so the files look like google/siglip2-*.
    """
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(add_bos_token=False, add_eos_token=True)
    write_json(path, config)


def nllb_tokenizer(vocab_size: int) -> Any:
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


def clip_tokenizer(num_merges: int) -> Any:
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


def wordpiece_tokenizer() -> Any:
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
