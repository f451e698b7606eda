"""core.languages: the NLLB code list and the language guess."""

from __future__ import annotations

import pytest

from core.languages import DEFAULT_LANGUAGE, NLLB_LANGUAGES, detect_language, language_choices, language_name


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
