"""core.languages: the NLLB code list and the language guess."""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.languages import (
    DEFAULT_LANGUAGE,
    NLLB_LANGUAGES,
    check_language_code,
    detect_language,
    language_choices,
    language_name,
)


def test_codes_are_exactly_nllb_200s():
    nllb = pytest.importorskip("transformers.models.nllb.tokenization_nllb")
    assert list(NLLB_LANGUAGES) == list(nllb.FAIRSEQ_LANGUAGE_CODES)
    assert len(language_choices()) == len(NLLB_LANGUAGES) == 202
    assert language_name("deu_Latn") == "German" and language_name("xyz_Abcd") == "xyz_Abcd"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("cat, dog, a photo of a car", "eng_Latn"),
        ("Katze, Straße, Bäume", "deu_Latn"),
        ("ein Foto von einer Katze", "deu_Latn"),
        ("kahve, çay, süt", "tur_Latn"),
        ("fusée, garçon, château", "fra_Latn"),
        ("une photo d'un chat", "fra_Latn"),
        ("perro, niño", "spa_Latn"),
        ("宇宙飛行士、パイロット", "jpn_Jpan"),
        ("猫，狗，汽车", "zho_Hans"),
        ("고양이, 개", "kor_Hang"),
        ("مجرات، غابة، مدينة", "arb_Arab"),
        ("кошка, собака", "rus_Cyrl"),
        ("γάτα, σκύλος", "ell_Grek"),
        ("बिल्ली, कुत्ता", "hin_Deva"),
        ("", DEFAULT_LANGUAGE),
        ("123, 456", DEFAULT_LANGUAGE),
    ],
)
def test_detect_language(text, code):
    assert detect_language(text) == code
    assert detect_language(text.split(",")) == code


def test_a_guess_reads_a_bounded_prefix():
    assert detect_language("ねこ、いぬ、" * 4_000_000) == "jpn_Jpan"  # 24 million characters, read in part


@pytest.mark.parametrize("code", ["klingon", "x" * 1_000_000, ["deu_Latn"], None, 5])
def test_a_code_that_is_not_nllb_is_refused_and_quoted_short(code):
    with pytest.raises(InvalidInputError, match=r"is not an NLLB language code\. Pick a language") as refused:
        check_language_code(code)
    assert len(str(refused.value)) < 250


def test_a_model_checks_codes_against_its_own_tokenizer():
    assert check_language_code("deu_Latn") == "deu_Latn"
    with pytest.raises(InvalidInputError, match="'deu_Latn' is not an NLLB language code"):
        check_language_code("deu_Latn", known={"eng_Latn"})
