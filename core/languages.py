"""Source languages for models whose tokenizer needs one (NLLB-CLIP), and a guess from the text.

The codes are NLLB-200's FLORES-200 codes (`language_Script`). `detect_language` is a cheap heuristic,
not a language identifier: it reads the writing system (reliable for Arabic, Cyrillic, CJK, Devanagari...)
and, for Latin script, a few letters and short words typical of some languages; anything else is English.
The UI shows its guess so that the user can pick the right language when it is wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable

from core.errors import InvalidInputError
from core.limits import MAX_LABELS_FIELD_CHARS, quote

DEFAULT_LANGUAGE = "eng_Latn"

#: Every NLLB-200 language code with its English name, in the tokenizer's order.
NLLB_LANGUAGES: dict[str, str] = {
    "ace_Arab": "Acehnese (Arabic script)",
    "ace_Latn": "Acehnese (Latin script)",
    "acm_Arab": "Mesopotamian Arabic",
    "acq_Arab": "Ta'izzi-Adeni Arabic",
    "aeb_Arab": "Tunisian Arabic",
    "afr_Latn": "Afrikaans",
    "ajp_Arab": "South Levantine Arabic",
    "aka_Latn": "Akan",
    "amh_Ethi": "Amharic",
    "apc_Arab": "North Levantine Arabic",
    "arb_Arab": "Arabic (Modern Standard)",
    "ars_Arab": "Najdi Arabic",
    "ary_Arab": "Moroccan Arabic",
    "arz_Arab": "Egyptian Arabic",
    "asm_Beng": "Assamese",
    "ast_Latn": "Asturian",
    "awa_Deva": "Awadhi",
    "ayr_Latn": "Central Aymara",
    "azb_Arab": "South Azerbaijani",
    "azj_Latn": "North Azerbaijani",
    "bak_Cyrl": "Bashkir",
    "bam_Latn": "Bambara",
    "ban_Latn": "Balinese",
    "bel_Cyrl": "Belarusian",
    "bem_Latn": "Bemba",
    "ben_Beng": "Bengali",
    "bho_Deva": "Bhojpuri",
    "bjn_Arab": "Banjar (Arabic script)",
    "bjn_Latn": "Banjar (Latin script)",
    "bod_Tibt": "Standard Tibetan",
    "bos_Latn": "Bosnian",
    "bug_Latn": "Buginese",
    "bul_Cyrl": "Bulgarian",
    "cat_Latn": "Catalan",
    "ceb_Latn": "Cebuano",
    "ces_Latn": "Czech",
    "cjk_Latn": "Chokwe",
    "ckb_Arab": "Central Kurdish",
    "crh_Latn": "Crimean Tatar",
    "cym_Latn": "Welsh",
    "dan_Latn": "Danish",
    "deu_Latn": "German",
    "dik_Latn": "Southwestern Dinka",
    "dyu_Latn": "Dyula",
    "dzo_Tibt": "Dzongkha",
    "ell_Grek": "Greek",
    "eng_Latn": "English",
    "epo_Latn": "Esperanto",
    "est_Latn": "Estonian",
    "eus_Latn": "Basque",
    "ewe_Latn": "Ewe",
    "fao_Latn": "Faroese",
    "pes_Arab": "Western Persian",
    "fij_Latn": "Fijian",
    "fin_Latn": "Finnish",
    "fon_Latn": "Fon",
    "fra_Latn": "French",
    "fur_Latn": "Friulian",
    "fuv_Latn": "Nigerian Fulfulde",
    "gla_Latn": "Scottish Gaelic",
    "gle_Latn": "Irish",
    "glg_Latn": "Galician",
    "grn_Latn": "Guarani",
    "guj_Gujr": "Gujarati",
    "hat_Latn": "Haitian Creole",
    "hau_Latn": "Hausa",
    "heb_Hebr": "Hebrew",
    "hin_Deva": "Hindi",
    "hne_Deva": "Chhattisgarhi",
    "hrv_Latn": "Croatian",
    "hun_Latn": "Hungarian",
    "hye_Armn": "Armenian",
    "ibo_Latn": "Igbo",
    "ilo_Latn": "Ilocano",
    "ind_Latn": "Indonesian",
    "isl_Latn": "Icelandic",
    "ita_Latn": "Italian",
    "jav_Latn": "Javanese",
    "jpn_Jpan": "Japanese",
    "kab_Latn": "Kabyle",
    "kac_Latn": "Jingpho",
    "kam_Latn": "Kamba",
    "kan_Knda": "Kannada",
    "kas_Arab": "Kashmiri (Arabic script)",
    "kas_Deva": "Kashmiri (Devanagari script)",
    "kat_Geor": "Georgian",
    "knc_Arab": "Central Kanuri (Arabic script)",
    "knc_Latn": "Central Kanuri (Latin script)",
    "kaz_Cyrl": "Kazakh",
    "kbp_Latn": "Kabiyè",
    "kea_Latn": "Kabuverdianu",
    "khm_Khmr": "Khmer",
    "kik_Latn": "Kikuyu",
    "kin_Latn": "Kinyarwanda",
    "kir_Cyrl": "Kyrgyz",
    "kmb_Latn": "Kimbundu",
    "kon_Latn": "Kikongo",
    "kor_Hang": "Korean",
    "kmr_Latn": "Northern Kurdish",
    "lao_Laoo": "Lao",
    "lvs_Latn": "Latvian",
    "lij_Latn": "Ligurian",
    "lim_Latn": "Limburgish",
    "lin_Latn": "Lingala",
    "lit_Latn": "Lithuanian",
    "lmo_Latn": "Lombard",
    "ltg_Latn": "Latgalian",
    "ltz_Latn": "Luxembourgish",
    "lua_Latn": "Luba-Kasai",
    "lug_Latn": "Ganda",
    "luo_Latn": "Luo",
    "lus_Latn": "Mizo",
    "mag_Deva": "Magahi",
    "mai_Deva": "Maithili",
    "mal_Mlym": "Malayalam",
    "mar_Deva": "Marathi",
    "min_Latn": "Minangkabau",
    "mkd_Cyrl": "Macedonian",
    "plt_Latn": "Plateau Malagasy",
    "mlt_Latn": "Maltese",
    "mni_Beng": "Meitei (Bengali script)",
    "khk_Cyrl": "Halh Mongolian",
    "mos_Latn": "Mossi",
    "mri_Latn": "Maori",
    "zsm_Latn": "Standard Malay",
    "mya_Mymr": "Burmese",
    "nld_Latn": "Dutch",
    "nno_Latn": "Norwegian Nynorsk",
    "nob_Latn": "Norwegian Bokmål",
    "npi_Deva": "Nepali",
    "nso_Latn": "Northern Sotho",
    "nus_Latn": "Nuer",
    "nya_Latn": "Nyanja",
    "oci_Latn": "Occitan",
    "gaz_Latn": "West Central Oromo",
    "ory_Orya": "Odia",
    "pag_Latn": "Pangasinan",
    "pan_Guru": "Eastern Panjabi",
    "pap_Latn": "Papiamento",
    "pol_Latn": "Polish",
    "por_Latn": "Portuguese",
    "prs_Arab": "Dari",
    "pbt_Arab": "Southern Pashto",
    "quy_Latn": "Ayacucho Quechua",
    "ron_Latn": "Romanian",
    "run_Latn": "Rundi",
    "rus_Cyrl": "Russian",
    "sag_Latn": "Sango",
    "san_Deva": "Sanskrit",
    "sat_Beng": "Santali",
    "scn_Latn": "Sicilian",
    "shn_Mymr": "Shan",
    "sin_Sinh": "Sinhala",
    "slk_Latn": "Slovak",
    "slv_Latn": "Slovenian",
    "smo_Latn": "Samoan",
    "sna_Latn": "Shona",
    "snd_Arab": "Sindhi",
    "som_Latn": "Somali",
    "sot_Latn": "Southern Sotho",
    "spa_Latn": "Spanish",
    "als_Latn": "Tosk Albanian",
    "srd_Latn": "Sardinian",
    "srp_Cyrl": "Serbian",
    "ssw_Latn": "Swati",
    "sun_Latn": "Sundanese",
    "swe_Latn": "Swedish",
    "swh_Latn": "Swahili",
    "szl_Latn": "Silesian",
    "tam_Taml": "Tamil",
    "tat_Cyrl": "Tatar",
    "tel_Telu": "Telugu",
    "tgk_Cyrl": "Tajik",
    "tgl_Latn": "Tagalog",
    "tha_Thai": "Thai",
    "tir_Ethi": "Tigrinya",
    "taq_Latn": "Tamasheq (Latin script)",
    "taq_Tfng": "Tamasheq (Tifinagh script)",
    "tpi_Latn": "Tok Pisin",
    "tsn_Latn": "Tswana",
    "tso_Latn": "Tsonga",
    "tuk_Latn": "Turkmen",
    "tum_Latn": "Tumbuka",
    "tur_Latn": "Turkish",
    "twi_Latn": "Twi",
    "tzm_Tfng": "Central Atlas Tamazight",
    "uig_Arab": "Uyghur",
    "ukr_Cyrl": "Ukrainian",
    "umb_Latn": "Umbundu",
    "urd_Arab": "Urdu",
    "uzn_Latn": "Northern Uzbek",
    "vec_Latn": "Venetian",
    "vie_Latn": "Vietnamese",
    "war_Latn": "Waray",
    "wol_Latn": "Wolof",
    "xho_Latn": "Xhosa",
    "ydd_Hebr": "Eastern Yiddish",
    "yor_Latn": "Yoruba",
    "yue_Hant": "Cantonese (Traditional Chinese)",
    "zho_Hans": "Chinese (Simplified)",
    "zho_Hant": "Chinese (Traditional)",
    "zul_Latn": "Zulu",
}

#: Scripts whose use decides the language (the most used language written in them).
_SCRIPT_LANGUAGE: dict[str, str] = {
    "ARABIC": "arb_Arab",
    "CYRILLIC": "rus_Cyrl",
    "GREEK": "ell_Grek",
    "HEBREW": "heb_Hebr",
    "DEVANAGARI": "hin_Deva",
    "BENGALI": "ben_Beng",
    "GURMUKHI": "pan_Guru",
    "GUJARATI": "guj_Gujr",
    "TAMIL": "tam_Taml",
    "TELUGU": "tel_Telu",
    "KANNADA": "kan_Knda",
    "MALAYALAM": "mal_Mlym",
    "SINHALA": "sin_Sinh",
    "THAI": "tha_Thai",
    "LAO": "lao_Laoo",
    "KHMER": "khm_Khmr",
    "MYANMAR": "mya_Mymr",
    "GEORGIAN": "kat_Geor",
    "ARMENIAN": "hye_Armn",
    "ETHIOPIC": "amh_Ethi",
    "TIBETAN": "bod_Tibt",
    "HANGUL": "kor_Hang",
    "HIRAGANA": "jpn_Jpan",
    "KATAKANA": "jpn_Jpan",
    "CJK": "zho_Hans",
}

#: Letters found in one Latin-script language among the common ones (checked in this order).
_LATIN_LETTERS: tuple[tuple[str, str], ...] = (
    ("tur_Latn", "ğışİ"),
    ("deu_Latn", "ß"),
    ("pol_Latn", "łąęśźżń"),
    ("ces_Latn", "řůě"),
    ("ron_Latn", "țș"),
    ("vie_Latn", "ơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ"),
    ("spa_Latn", "ñ¿¡"),
    ("por_Latn", "ãõ"),
    ("fra_Latn", "œçèêëîïûùÿ"),
    ("deu_Latn", "äöü"),
    ("swe_Latn", "å"),
    ("dan_Latn", "øæ"),
    ("hun_Latn", "őű"),
)

#: Short words that are frequent in one language and rare in the others.
_LATIN_WORDS: dict[str, frozenset[str]] = {
    "deu_Latn": frozenset("der die das ein eine und mit von ist foto bild einer".split()),
    "fra_Latn": frozenset("le la les un une des et avec du au est photo d'un d'une".split()),
    "spa_Latn": frozenset("el los las un una unos y con del es foto de".split()),
    "ita_Latn": frozenset("il lo gli una con della di è foto".split()),
    "por_Latn": frozenset("o os um uma com do da dos das é foto".split()),
    "nld_Latn": frozenset("de het een en met van is foto".split()),
    "tur_Latn": frozenset("bir ve ile bu fotoğrafı".split()),
    "eng_Latn": frozenset("the a an and with of is photo picture".split()),
}


def language_choices() -> list[tuple[str, str]]:
    """(display name, code) pairs sorted by name, for a language selector."""
    return sorted(((f"{name} ({code})", code) for code, name in NLLB_LANGUAGES.items()), key=lambda x: x[0])


def language_name(code: str) -> str:
    """`deu_Latn` -> `German`; an unknown code is returned as it is."""
    return NLLB_LANGUAGES.get(code, code)


def check_language_code(code: object, known: Collection[str] = NLLB_LANGUAGES) -> str:
    """Return `code` if it is one of the `known` NLLB codes (default: all of NLLB-200).

    Raises:
        InvalidInputError: not a string, or not a known code; the message shows what codes look like.
    """
    if not isinstance(code, str) or code not in known:
        raise InvalidInputError(
            f"{quote(code)} is not an NLLB language code. Pick a language from the list, or use a "
            "code like eng_Latn, fra_Latn, deu_Latn or jpn_Jpan (language_Script, as listed in the "
            "NLLB-200 documentation)."
        )
    return code


def detect_language(texts: str | Iterable[str]) -> str:
    """Guess the NLLB code of `texts` (a string or labels) from their script, letters and words.

    Returns:
        An `NLLB_LANGUAGES` code; `DEFAULT_LANGUAGE` (English) when nothing points elsewhere.
    """
    text = texts if isinstance(texts, str) else " ".join(texts)
    # The script of a long prefix decides as well as the whole, at a bounded cost.
    text = text[:MAX_LABELS_FIELD_CHARS]
    scripts = Counter(script for script in map(_script, text) if script)
    if not scripts:
        return DEFAULT_LANGUAGE
    # Japanese mixes kana with kanji: any kana at all means Japanese, not Chinese.
    if scripts["HIRAGANA"] or scripts["KATAKANA"]:
        return "jpn_Jpan"
    script, _ = scripts.most_common(1)[0]
    if script != "LATIN":
        return _SCRIPT_LANGUAGE.get(script, DEFAULT_LANGUAGE)
    return _latin_language(text)


def _latin_language(text: str) -> str:
    lowered = text.lower()
    # ç is French or Turkish, ü and ö German or Turkish: together they are Turkish.
    if "ç" in lowered and ("ü" in lowered or "ö" in lowered):
        return "tur_Latn"
    for code, letters in _LATIN_LETTERS:
        if any(letter.lower() in lowered for letter in letters):
            return code
    words = re.findall(r"[\w']+", lowered)
    votes = Counter(code for word in words for code, common in _LATIN_WORDS.items() if word in common)
    if votes:
        best, count = votes.most_common(1)[0]
        if count > votes.get(DEFAULT_LANGUAGE, 0):
            return best
    if any(letter in lowered for letter in "éáíóú"):
        return "spa_Latn" if any(letter in lowered for letter in "áíóú") else "fra_Latn"
    return DEFAULT_LANGUAGE


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith(("CJK", "KANGXI", "IDEOGRAPHIC")):
        return "CJK"
    first = name.split(" ", 1)[0]
    return first if first in _SCRIPT_LANGUAGE or first == "LATIN" else None
