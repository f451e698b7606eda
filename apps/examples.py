"""Examples shown under the tabs, with the bundled photos of `examples/` (licences: examples/LICENSES.md)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.images import open_image

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def photo(name: str) -> str:
    """Absolute path of a bundled example photo, e.g. `photo("cat.jpg")`."""
    return str(EXAMPLES_DIR / name)


#: (photo, comma-separated English labels).
CLIP_VS_SIGLIP: tuple[tuple[str, str], ...] = (
    ("cat.jpg", "cat, dog, tiger, a cat lying on a rug, a stuffed animal"),
    ("coffee.jpg", "coffee, tea, espresso, hot chocolate, soup"),
    ("astronaut.jpg", "astronaut, pilot, doctor, soldier, American flag"),
    ("rocket.jpg", "rocket launch, airplane, fireworks, volcano, lighthouse"),
    ("hubble.jpg", "galaxies, stars, fireworks, a microscope slide, city lights at night"),
)

#: (photo, labels in one language and script, NLLB source-language code or "auto", caption).
MULTILINGUAL: tuple[tuple[str, str, str, str], ...] = (
    ("cat.jpg", "Katze, Hund, Pferd, Vogel, Teppich", "deu_Latn", "German"),
    ("coffee.jpg", "kahve, çay, çorba, dondurma, süt", "tur_Latn", "Turkish"),
    ("rocket.jpg", "fusée, avion, bateau, train, volcan", "fra_Latn", "French"),
    ("astronaut.jpg", "宇宙飛行士、医者、料理人、消防士、パイロット", "jpn_Jpan", "Japanese"),
    ("hubble.jpg", "مجرات، غابة، مدينة، صحراء، بحر", "arb_Arab", "Arabic"),
    ("cat.jpg", "猫，狗，老虎，兔子，地毯", "auto", "Chinese (language guessed)"),
)


def clip_vs_siglip_examples(template: str, top_k: int) -> list[list[object]]:
    return [[photo(name), labels, template, top_k] for name, labels in CLIP_VS_SIGLIP]


def multilingual_examples(template: str, top_k: int) -> list[list[object]]:
    return [[photo(name), labels, language, template, top_k] for name, labels, language, _ in MULTILINGUAL]


def multilingual_captions() -> list[str]:
    return [f"{caption}: {labels}" for _, labels, _, caption in MULTILINGUAL]


def load_photo(name: str) -> Image.Image:
    """A bundled photo opened as RGB through the core's safe loader."""
    return open_image(photo(name))
