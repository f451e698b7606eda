"""Settings: one small object filled from `SIGLIP_PROJECTS_*` environment variables and CLI flags.

The README's settings table is generated from the fields' metadata (`core.docs`), so every field is
documented once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from core.errors import InvalidInputError
from core.limits import quote
from core.overrides import assign_overrides, overrides_from_env

ENV_PREFIX = "SIGLIP_PROJECTS_"
#: A Hugging Face Space's persistent storage, when it has some: indexes go there by default.
SPACE_STORAGE = Path("/data")


def _meta(env: str, help: str) -> dict[str, str]:
    return {"env": ENV_PREFIX + env, "help": help}


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build it with `Settings.from_env()`, change it with `.with_()`."""

    index_dir: Path = field(
        default=Path("indexes"),
        metadata=_meta(
            "INDEX_DIR",
            "Folder holding the built indexes (one sub-folder per index). On a Hugging Face Space with "
            "persistent storage the default is `/data/indexes`, so collections and the gallery survive "
            "restarts.",
        ),
    )
    batch_size: int = field(
        default=32, metadata=_meta("BATCH_SIZE", "Images or texts per model call when embedding.")
    )
    device: str = field(
        default="auto",
        metadata=_meta("DEVICE", "`auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`."),
    )
    precision: str = field(
        default="auto",
        metadata=_meta(
            "PRECISION",
            "`auto`: fp32 for interactive uses (the zero-shot tabs and query embeddings, whose scores "
            "then equal the fp32 transformers pipeline to 1e-5) and bf16 for bulk uses (index builds, "
            "evaluation runs) on GPUs and CPUs that compute it natively (about 2x faster on CPU; "
            "embeddings at cosine >= 0.9999 to fp32). `fp32`, `bf16` or `fp16` (GPU only) apply to "
            "every use.",
        ),
    )
    naflex_max_patches: int = field(
        default=256,
        metadata=_meta(
            "NAFLEX_MAX_PATCHES",
            "Most 16x16 patches per image for SigLIP 2 NaFlex (more: finer detail, slower).",
        ),
    )
    wikiart_size: int = field(
        default=2000,
        metadata=_meta(
            "WIKIART_SIZE",
            "Paintings of `huggan/wikiart` indexed in the background on first start when no `wikiart` "
            "index exists (0: off).",
        ),
    )
    concurrency: int = field(
        default=2,
        metadata=_meta(
            "CONCURRENCY", "Model requests served at once across all tabs; more wait in the queue."
        ),
    )
    eval_max_images: int = field(
        default=2000,
        metadata=_meta(
            "EVAL_MAX_IMAGES",
            "Most images one run of the app's Evaluate tab reads; a larger upload is refused with a "
            "message (the `eval` command line reads folders and datasets of any size).",
        ),
    )
    eval_max_classes: int = field(
        default=200,
        metadata=_meta("EVAL_MAX_CLASSES", "Most classes (class folders) one run of the Evaluate tab takes."),
    )
    eval_max_upload_mb: int = field(
        default=200,
        metadata=_meta(
            "EVAL_MAX_UPLOAD_MB",
            "Largest file the app accepts, in MB (the Evaluate tab's zips; single images stay under "
            "50 MB). A zip may unpack to at most 5x this, with no file compressed more than 100:1.",
        ),
    )
    eval_max_image_models: int = field(
        default=2000,
        metadata=_meta(
            "EVAL_MAX_IMAGE_MODELS",
            "Most images x models one run of the Evaluate tab takes (600 images with 3 models: 1,800); "
            "about 15 min on a free CPU Space.",
        ),
    )
    eval_time_limit_minutes: float = field(
        default=20.0,
        metadata=_meta(
            "EVAL_TIME_LIMIT_MINUTES",
            "A run of the Evaluate tab still going after this is stopped (0: none).",
        ),
    )
    gallery_repo: str = field(
        default="",
        metadata=_meta(
            "GALLERY_REPO",
            "Hub dataset repo (or local snapshot folder) of a pushed index to install as the `wikiart` "
            "gallery on first start, instead of building it (see `index push` / `index pull`).",
        ),
    )
    upload_max_files: int = field(
        default=500,
        metadata=_meta(
            "UPLOAD_MAX_FILES", "Most images in one upload to the Your images tab (zip members included)."
        ),
    )
    upload_max_mb: int = field(
        default=200,
        metadata=_meta(
            "UPLOAD_MAX_MB", "Most megabytes in one upload to the Your images tab (zips counted unpacked)."
        ),
    )
    collection_max_images: int = field(
        default=5000,
        metadata=_meta("COLLECTION_MAX_IMAGES", "Most images one collection made in the app may hold."),
    )
    max_collections: int = field(
        default=100,
        metadata=_meta(
            "MAX_COLLECTIONS",
            "Most collections made in the app that the index folder keeps, builds in flight included "
            "(more are refused until some are deleted).",
        ),
    )
    owner_max_collections: int = field(
        default=10,
        metadata=_meta(
            "OWNER_MAX_COLLECTIONS",
            "Most collections one owner (a signed-in account or an owner token) keeps, builds in flight "
            "included.",
        ),
    )
    owner_max_images: int = field(
        default=10000,
        metadata=_meta("OWNER_MAX_IMAGES", "Most images in all the collections of one owner together."),
    )
    owner_max_mb: int = field(
        default=1000,
        metadata=_meta(
            "OWNER_MAX_MB",
            "Most megabytes on disk of one owner's collections together (thumbnails, vectors, metadata: "
            "about 30 KB per image).",
        ),
    )
    owner_max_builds: int = field(
        default=1,
        metadata=_meta("OWNER_MAX_BUILDS", "Builds (create or add) one owner may have in flight at once."),
    )
    builds_in_flight: int = field(
        default=4,
        metadata=_meta(
            "BUILDS_IN_FLIGHT",
            "Collection builds in flight in the whole app (one runs at a time, the others wait); more are "
            "refused with when to retry.",
        ),
    )
    index_max_gb: float = field(
        default=30.0,
        metadata=_meta(
            "INDEX_MAX_GB",
            "Disk budget of the index folder in GB (the gallery, collections, command-line indexes): a "
            "collection build that would go over it is refused. The default leaves room on a free "
            "Space's 50 GB disk for the models and Gradio's cache.",
        ),
    )
    admin: bool = field(
        default=False,
        metadata=_meta(
            "ADMIN",
            "Let every visitor see, add to, share and delete any index, not only their own collections. "
            "Off by default, so that on a shared or public app nobody can see or change someone else's "
            "collection or the gallery; turn it on for an app only you use.",
        ),
    )
    upload_cache_minutes: float = field(
        default=60.0,
        metadata=_meta(
            "UPLOAD_CACHE_MINUTES",
            "Uploads and generated files in Gradio's cache are deleted after this many minutes (checked "
            "every few minutes; 0: kept until the app stops).",
        ),
    )
    loaded_models_gb: float = field(
        default=0.0,
        metadata=_meta(
            "LOADED_MODELS_GB",
            "Most memory all loaded models may take together, in GB (0: 60% of the machine's memory). "
            "Models load on first use; the least recently used are unloaded to make room for another, "
            "and a model larger than this is refused with its size.",
        ),
    )
    mcp: bool = field(
        default=True,
        metadata=_meta("MCP", "Serve the search and comparison tools over MCP at `/gradio_api/mcp/`."),
    )
    model_overrides: Mapping[str, str] = field(
        default_factory=dict,
        metadata=_meta(
            "MODEL_<SLOT>",
            "Hub id or local folder to load for a model slot instead of its default (see Models).",
        ),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every `SIGLIP_PROJECTS_*` variable of `environ` (default: `os.environ`).

        Raises:
            InvalidInputError: a variable holds a value of the wrong type.
            UnknownModelError: a `SIGLIP_PROJECTS_MODEL_*` variable names no model slot.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "model_overrides":
                continue
            raw = environ.get(f.metadata["env"])
            if raw not in (None, ""):
                values[f.name] = _parse(f.metadata["env"], raw, f.default)
        if "index_dir" not in values and environ.get("SPACE_ID") and os.access(SPACE_STORAGE, os.W_OK):
            values["index_dir"] = SPACE_STORAGE / "indexes"
        return cls(model_overrides=overrides_from_env(environ), **values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_model_overrides(self, assignments: Iterable[str]) -> Settings:
        """Apply `SLOT=VALUE` strings (from `--model`) on top of the current overrides.

        Raises:
            InvalidInputError: an assignment without `=`.
            UnknownModelError: an unknown slot.
        """
        return replace(self, model_overrides=assign_overrides(self.model_overrides, assignments))


def _parse(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
    except ValueError:
        raise InvalidInputError(f"{name}={quote(raw)} is not a valid {type(default).__name__}.") from None
    return raw


_lock = threading.Lock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings: read from the environment on first use, or as set by `set_settings`."""
    global _current
    with _lock:
        if _current is None:
            _current = Settings.from_env()
        return _current


def set_settings(settings: Settings | None) -> None:
    """Replace the process-wide settings (None: re-read the environment on next use)."""
    global _current
    with _lock:
        _current = settings
