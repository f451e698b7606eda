"""Checkpoint references: any compatible checkpoint, named where a registry key is accepted.

A reference is a Hugging Face Hub id (`ORG/REPO`, optionally `ORG/REPO@REVISION`) or a local folder
that transformers loads, whose config's `model_type` is a supported family, or an open_clip model
(`open_clip:NAME[@TAG]`, `open_clip:hf-hub:ORG/REPO`, `open_clip:local-dir:/path`). `inspect` reads
only the small config files (never the weights) and says what the checkpoint is; the registry turns
that into a `ModelSpec`. Anything that would need `trust_remote_code` is refused.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import ModelLoadError, UnknownModelError
from core.limits import quote

OPEN_CLIP_PREFIX = "open_clip:"
#: transformers `model_type`s whose checkpoints load as models here.
TRANSFORMERS_TYPES = ("siglip", "siglip2", "clip", "metaclip_2")
SUPPORTED = (
    "a Hub id or local folder of a transformers checkpoint of model_type siglip, siglip2 (SigLIP 2, "
    "NaFlex), clip or metaclip_2 (MetaCLIP 2), or an open_clip model (open_clip:NAME@TAG, "
    "open_clip:hf-hub:ORG/REPO, open_clip:local-dir:/path)"
)
#: Longest reference taken (a path; longer strings are no reference and never reach the file system).
MAX_REFERENCE_CHARS = 1024
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}(@[\w./-]{1,100})?$")


@dataclass(frozen=True)
class Checkpoint:
    """What a reference names, read from its config files.

    Attributes:
        reference: The normalised reference (the model's key): a Hub id without any `@REVISION` (the
            revision is part of `source`), a folder as an absolute path, `open_clip:...` with its tag.
        source: What the encoder loads: the Hub id pinned to the commit read (`ORG/REPO@COMMIT`) where
            known, the folder, or the open_clip name (`NAME@TAG`, `hf-hub:...`, `local-dir:...`).
        backend: Library that loads it.
        model_type: The transformers `model_type`, or "open_clip".
        sigmoid: Scored with an independent sigmoid per label (SigLIP-type), else a softmax.
        gemma_tokenizer: A `siglip` checkpoint with a Gemma tokenizer: fixed-resolution SigLIP 2.
        revision: The Hub commit the config was read from, where known.
    """

    reference: str
    source: str
    backend: Literal["transformers", "open_clip"]
    model_type: str
    sigmoid: bool
    gemma_tokenizer: bool = False
    revision: str | None = None

    @property
    def name(self) -> str:
        """A short display name: the repository, folder or open_clip model name."""
        tail = self.reference.removeprefix(OPEN_CLIP_PREFIX).rstrip("/")
        return tail.rsplit("/", 1)[-1] or tail


def is_reference(value: object) -> bool:
    """True when `value` is shaped like a checkpoint reference (not necessarily a loadable one)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REFERENCE_CHARS or "\0" in value:
        return False
    value = value.strip()
    return value.startswith(OPEN_CLIP_PREFIX) or "/" in value or value.startswith(("~", "."))


_cache: dict[str, Checkpoint] = {}
_lock = threading.Lock()


def inspect(reference: str) -> Checkpoint:
    """What `reference` names (read once per process, then cached).

    Raises:
        UnknownModelError: not a reference, an unsupported architecture, or one needing remote code;
            the message names what is supported.
        ModelLoadError: its config cannot be read (offline and not cached, missing files).
    """
    reference = reference.strip()
    with _lock:
        found = _cache.get(reference)
    if found is None:
        found = _open_clip(reference) if reference.startswith(OPEN_CLIP_PREFIX) else _transformers(reference)
        with _lock:
            _cache[reference] = found
    return found


def split_revision(source: str) -> tuple[str, str | None]:
    """`ORG/REPO@REV` -> (`ORG/REPO`, `REV`); anything else (a folder) -> (source, None)."""
    if _HUB_ID.match(source) and "@" in source and not Path(source).exists():
        repo, _, revision = source.partition("@")
        return repo, revision
    return source, None


def _refuse(reference: str, why: str) -> UnknownModelError:
    return UnknownModelError(f"Cannot use {quote(reference)} as a model: {why}. Supported: {SUPPORTED}.")


def _transformers(reference: str) -> Checkpoint:
    folder = Path(reference).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file() and (folder / "open_clip_config.json").is_file():
            return _open_clip(f"{OPEN_CLIP_PREFIX}local-dir:{folder.resolve()}")
        reference = str(folder.resolve())
        config, revision = _read_json(folder / "config.json", reference), None
        tokenizer = _read_optional(folder / "tokenizer_config.json")
        source = reference
    elif _HUB_ID.match(reference):
        repo, revision = split_revision(reference)
        path = _hub_file(repo, "config.json", revision, reference)
        config, revision = _read_json(path, reference), path.parent.name
        tokenizer = _read_optional(_hub_file(repo, "tokenizer_config.json", revision, reference, False))
        source, reference = f"{repo}@{revision}", repo
    else:
        raise _refuse(reference, "it is neither a folder nor a Hub id (ORG/REPO)")
    model_type = config.get("model_type")
    if "auto_map" in config or "auto_map" in tokenizer:
        raise _refuse(reference, "it needs trust_remote_code (its own Python code), which is never enabled")
    if model_type not in TRANSFORMERS_TYPES:
        raise _refuse(reference, f"its model_type is {quote(model_type)}")
    gemma = model_type == "siglip" and str(tokenizer.get("tokenizer_class", "")).startswith("Gemma")
    sigmoid = model_type.startswith("siglip")
    return Checkpoint(reference, source, "transformers", model_type, sigmoid, gemma, revision)


def _open_clip(reference: str) -> Checkpoint:
    name = reference.removeprefix(OPEN_CLIP_PREFIX).strip()
    if name.startswith("local-dir:"):
        folder = Path(name.removeprefix("local-dir:")).expanduser().resolve()
        name = f"local-dir:{folder}"
        config = _read_json(folder / "open_clip_config.json", reference).get("model_cfg", {})
    elif name.startswith("hf-hub:"):
        repo = name.removeprefix("hf-hub:")
        if not _HUB_ID.match(repo) or "@" in repo:
            raise _refuse(reference, "hf-hub: takes ORG/REPO")
        config = _read_json(_hub_file(repo, "open_clip_config.json", None, reference), reference)
        config = config.get("model_cfg", {})
    else:
        name, config = _open_clip_named(reference, name)
    if not isinstance(config, dict) or not config:
        raise _refuse(reference, "its open_clip config has no model_cfg")
    sigmoid = "init_logit_bias" in config
    return Checkpoint(OPEN_CLIP_PREFIX + name, name, "open_clip", "open_clip", sigmoid)


def _open_clip_named(reference: str, value: str) -> tuple[str, dict[str, Any]]:
    """`NAME@TAG` checked against open_clip's own lists; a name with one pretrained tag needs none."""
    import open_clip

    name, _, tag = value.partition("@")
    config = open_clip.get_model_config(name)
    if config is None:
        raise _refuse(reference, f"open_clip has no model {quote(name)} (see open_clip.list_models())")
    tags = open_clip.list_pretrained_tags_by_model(name)
    if not tag and len(tags) == 1:
        tag = tags[0]
    if tag not in tags:
        known = ", ".join(tags[:8]) + (f" and {len(tags) - 8} more" if len(tags) > 8 else "") or "none"
        raise _refuse(reference, f"name its weights as open_clip:{name}@TAG (tags of {name}: {known})")
    return f"{name}@{tag}", config


def _hub_file(repo: str, filename: str, revision: str | None, reference: str, required: bool = True) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo, filename, revision=revision))
    except LocalEntryNotFoundError:  # offline and not cached (a subclass of EntryNotFoundError)
        if not required:
            return Path("/nonexistent")
        raise ModelLoadError(
            f"Cannot read {filename} of {quote(reference)}: it is not in the local Hugging Face cache and "
            "the Hub cannot be reached. Download it once with internet (it is then cached), or give a "
            "local folder instead."
        ) from None
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as error:
        if not required:
            return Path("/nonexistent")
        raise _refuse(reference, f"no {filename} in it ({type(error).__name__})") from None
    except Exception as error:  # offline, not cached, HTTP errors: every kind of network failure
        if not required:
            return Path("/nonexistent")
        reason = " ".join(str(error).split())[:200]
        raise ModelLoadError(
            f"Cannot read {filename} of {quote(reference)}: {reason}. If you are offline, download it "
            "once with internet (it is then cached) or give a local folder instead."
        ) from None


def _read_json(path: Path, reference: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _refuse(reference, f"it has no {path.name}") from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"Cannot read {path} of {quote(reference)}: {error}.") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} of {quote(reference)} does not hold a JSON object.")
    return data


def _read_optional(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
