"""Tiny, randomly initialised, fully offline checkpoints for every model family the app loads.

`build_tiny_models(root)` writes one folder per slot under `root` and returns `{slot: value}`, where the
value is what the app accepts in place of a Hub id (a directory, or `local-dir:/abs/path` for open_clip).
Everything is seeded, so rebuilding gives identical weights and vocabularies.

Run `python -m core.testing.tiny_models OUTDIR` to build them and print
`export SIGLIP_PROJECTS_MODEL_...=...`
lines for launching the app on tiny models.

Heavy libraries are imported inside the builders so that importing this package stays cheap.

    common      the slots, their dimensions and image sizes, quiet transformers, seeding
    corpus      the multilingual corpus the tokenizers are trained on
    tokenizers  SentencePiece, Gemma, NLLB, CLIP BPE and WordPiece tokenizers
    siglip      SigLIP, SigLIP multilingual, SigLIP 2, SigLIP 2 NaFlex
    clip        CLIP, NLLB-CLIP
    mclip       multilingual CLIP (sentence-transformers)
    references  MetaCLIP 2, and open_clip models shaped like PE-Core and SigLIP 2, named by reference
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.testing.tiny_models.clip import build_clip, build_nllb_clip
from core.testing.tiny_models.common import (
    BUILDER_VERSION,
    EMBED_DIMS,
    ENV_PREFIX,
    IMAGE_SIZES,
    NLLB_LANGUAGES,
    SLOTS,
    quiet_transformers,
)
from core.testing.tiny_models.mclip import build_mclip_image, build_mclip_text
from core.testing.tiny_models.references import (
    REFERENCE_DIMS,
    REFERENCES_VERSION,
    build_metaclip2,
    build_open_clip_pe_core,
    build_open_clip_siglip2,
    register_tiny_timm,
)
from core.testing.tiny_models.siglip import (
    build_siglip,
    build_siglip2,
    build_siglip2_naflex,
    build_siglip_multilingual,
)

__all__ = [
    "BUILDER_VERSION",
    "EMBED_DIMS",
    "IMAGE_SIZES",
    "NLLB_LANGUAGES",
    "REFERENCE_DIMS",
    "SLOTS",
    "build_reference_models",
    "build_tiny_models",
    "env_var_name",
    "register_tiny_timm",
]


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
        with quiet_transformers():
            for slot in missing:
                _build_atomically(base / slot, _BUILDERS[slot])
    return {slot: f"local-dir:{base / slot}" if slot == "nllb-clip" else str(base / slot) for slot in SLOTS}


_Builder = Callable[[Path, Path], None]


def build_reference_models(root: Path | str) -> dict[str, str]:
    """Build the tiny checkpoints that are named by reference (idempotent) and return {name: the
    reference that names it}: a folder for MetaCLIP 2, `open_clip:local-dir:...` for the open_clip
    ones. Registers the tiny timm trunks those need in this process."""
    base = Path(root).expanduser().resolve() / f"tiny-references-v{REFERENCES_VERSION}"
    base.mkdir(parents=True, exist_ok=True)
    register_tiny_timm()
    with quiet_transformers():
        for name, builder in _REFERENCE_BUILDERS.items():
            if not (base / name).is_dir():
                _build_atomically(base / name, builder)
    return {
        name: str(base / name) if name == "metaclip2" else f"open_clip:local-dir:{base / name}"
        for name in _REFERENCE_BUILDERS
    }


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


_BUILDERS: dict[str, _Builder] = {
    "siglip": build_siglip,
    "siglip-multilingual": build_siglip_multilingual,
    "siglip2": build_siglip2,
    "siglip2-naflex": build_siglip2_naflex,
    "clip": build_clip,
    "nllb-clip": build_nllb_clip,
    "mclip-image": build_mclip_image,
    "mclip-text": build_mclip_text,
}


_REFERENCE_BUILDERS: dict[str, _Builder] = {
    "metaclip2": build_metaclip2,
    "open-clip-pe-core": build_open_clip_pe_core,
    "open-clip-siglip2": build_open_clip_siglip2,
}


def main(argv: list[str]) -> int:
    """`python -m core.testing.tiny_models OUTDIR`: build and print shell exports for the app."""
    if len(argv) != 1:
        print("usage: python -m core.testing.tiny_models OUTDIR", file=sys.stderr)
        return 2
    for slot, value in build_tiny_models(argv[0]).items():
        print(f"export {env_var_name(slot)}={shlex.quote(value)}")
    return 0
