"""Which model may read or extend an index: the one rule, and its one message.

Vectors of different models (or of two checkpoints of one model key) live in different spaces; a
query embedded by another model than the index's gives confident nonsense, never an error. So every
reader and writer of an index calls `check_compatible` before it trusts the vectors.
"""

from __future__ import annotations

from core.config import Settings, get_settings
from core.errors import IndexMismatchError
from core.index import hints
from core.index.format.manifest import Manifest
from core.limits import quote
from core.registry import ModelSpec, resolve_sources, sources_id, spec_of

#: A language argument that is not checked (search queries: the query's language is the caller's).
ANY_LANGUAGE = object()


def expected_model_id(model: str | ModelSpec, settings: Settings | None = None) -> str:
    """The `Encoder.model_id` that `get_encoder(model, settings)` would have, without loading it.

    Raises:
        UnknownModelError: `model` is a key that is not in the registry.
    """
    settings = settings or get_settings()
    return sources_id(resolve_sources(spec_of(model), settings.model_overrides))


def check_compatible(
    manifest: Manifest,
    model_key: str,
    model_id: str,
    dim: int | None = None,
    language: str | object | None = ANY_LANGUAGE,
) -> None:
    """Check that vectors of `model_key` loaded from `model_id` (of dimension `dim`, when known) belong
    in the index of `manifest`, and, for a build that adds texts, that they are in its `language`.

    Raises:
        IndexMismatchError: another model, checkpoint, dimension or language; the message names both
            and how to rebuild the index for the other one.
    """
    same_dim = dim is None or dim == manifest.dim
    if (manifest.model_key, manifest.model_id) != (model_key, model_id) or not same_dim:
        shown_dim = f", {dim}-d" if dim is not None else ""
        raise IndexMismatchError(
            f"Index '{manifest.name}' was built with model '{manifest.model_key}' ({manifest.model_id}, "
            f"{manifest.dim}-d), not with '{model_key}' ({model_id}{shown_dim}). Use '{manifest.model_key}' "
            f"loaded from the same checkpoint, or rebuild the index for '{model_key}': "
            f"{hints.rebuild_instruction(manifest.name, manifest.source, model_key)}."
        )
    if language is not ANY_LANGUAGE and manifest.kind == "text" and manifest.language != language:
        raise IndexMismatchError(
            f"Index '{manifest.name}' embedded its texts with language {manifest.language!r}; this build "
            f"asks for {quote(language)}. {hints.same_language_hint()}"
        )


def check_settings(manifest: Manifest, model: str | ModelSpec, settings: Settings | None = None) -> None:
    """`check_compatible` for `model` (a key or its spec) as `settings` would load it (nothing is loaded).

    Raises:
        IndexMismatchError: as `check_compatible`.
        UnknownModelError: `model` is a key that is not in the registry.
    """
    spec = spec_of(model)
    check_compatible(manifest, spec.key, expected_model_id(spec, settings))
