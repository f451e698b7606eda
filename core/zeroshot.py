"""Zero-shot classification of one image against the user's labels, for any registry model.

Scores come from the model's own family: SigLIP-type models give each label an independent sigmoid
probability (they need not sum to 1); CLIP, NLLB-CLIP and multilingual CLIP give a softmax over the
labels. Output is `[{"label", "score"}]` sorted by score, as transformers' pipeline returns it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders import Encoder, get_encoder
from core.errors import InvalidInputError
from core.limits import (
    MAX_LABEL_CHARS,
    MAX_LABELS,
    MAX_LABELS_FIELD_CHARS,
    MAX_TEMPLATE_CHARS,
    check_text,
    quote,
)
from core.registry import DEFAULT_MODEL_KEY

DEFAULT_TEMPLATE = "This is a photo of {}."
#: Commas of several scripts: Latin, full-width (CJK), ideographic (Japanese), Arabic.
_LABEL_SEPARATORS = re.compile(r"[,，、،]")
#: What a template may hold besides text: one bare `{}` (where the label goes) and `{{`/`}}` escapes.
_TEMPLATE_PARTS = re.compile(r"\{\{|\}\}|\{\}|[{}]")
TEMPLATE_RULE = (
    "A template is a sentence with exactly one {} where the label goes, e.g. "
    f"'{DEFAULT_TEMPLATE}'; write {{{{ and }}}} for literal braces. Nothing may go inside the {{}} "
    "(no names, numbers or format specs such as {:>10})."
)


def parse_labels(labels: str | Iterable[str]) -> list[str]:
    """Split comma-separated labels, trim them, drop empty ones and duplicates (first kept).

    Accepts the commas of Latin, CJK and Arabic scripts, or an already split list of strings.

    Raises:
        InvalidInputError: no label is left, more than `MAX_LABELS`, one is over `MAX_LABEL_CHARS`,
            the whole field is over `MAX_LABELS_FIELD_CHARS`, or a label is not a string.
    """
    if isinstance(labels, str):
        _check_labels_size(len(labels))
        parts = _LABEL_SEPARATORS.split(labels)
    else:
        parts = list(labels) if isinstance(labels, Iterable) else [labels]
        if not all(isinstance(part, str) for part in parts):
            odd = next(part for part in parts if not isinstance(part, str))
            raise InvalidInputError(f"Labels must be text, got {type(odd).__name__} {quote(odd)}.")
        _check_labels_size(sum(len(part) + 1 for part in parts))
    unique = list(dict.fromkeys(part.strip() for part in parts if part and part.strip()))
    if not unique:
        raise InvalidInputError(
            "No labels given. Type the candidate labels separated by commas, e.g. 'cat, dog, car'."
        )
    if len(unique) > MAX_LABELS:
        raise InvalidInputError(
            f"{len(unique)} labels given; at most {MAX_LABELS} are compared at once. Remove some."
        )
    for label in unique:
        if len(label) > MAX_LABEL_CHARS:
            raise InvalidInputError(
                f"The label {quote(label)} is {len(label):,} characters long; "
                f"keep each label under {MAX_LABEL_CHARS} characters."
            )
    return unique


def check_labels_field(labels: object) -> str:
    """Return the labels field as typed (not yet split) if it is text of at most
    `MAX_LABELS_FIELD_CHARS` characters; `parse_labels` makes the other checks.

    Raises:
        InvalidInputError: not text, or too long.
    """
    if not isinstance(labels, str):
        raise InvalidInputError(
            f"The labels must be text (comma-separated), got {type(labels).__name__} {quote(labels)}."
        )
    _check_labels_size(len(labels))
    return labels


def _check_labels_size(size: int) -> None:
    # Checked before splitting: a huge field would otherwise become a huge list first.
    if size > MAX_LABELS_FIELD_CHARS:
        raise InvalidInputError(
            f"The labels are {size:,} characters long in all; at most {MAX_LABELS_FIELD_CHARS:,} are "
            f"accepted ({MAX_LABELS} labels of up to {MAX_LABEL_CHARS} characters). Remove some."
        )


def check_template(template: object) -> str:
    """Return the template to use (the default when empty or None).

    The one check of templates for the app, its API and the command line: see `TEMPLATE_RULE`.

    Raises:
        InvalidInputError: not text, over `MAX_TEMPLATE_CHARS`, or not exactly one bare `{}` (a format
            spec, a field name or index, a conversion, or a lone brace); the message says what is allowed.
    """
    if template is None or (isinstance(template, str) and not template.strip()):
        return DEFAULT_TEMPLATE
    template = check_text(template, "The template", MAX_TEMPLATE_CHARS)
    parts = _TEMPLATE_PARTS.findall(template)
    if any(part in ("{", "}") for part in parts):
        problem = "has a brace that is neither part of a bare {} nor a {{ or }} escape"
    elif parts.count("{}") != 1:
        count = parts.count("{}")
        problem = "has no {} where the label goes" if count == 0 else f"has {count} {{}} instead of one"
    else:
        return template
    raise InvalidInputError(f"The template {quote(template)} {problem}. {TEMPLATE_RULE}")


def fill_template(template: str, label: str) -> str:
    """The text for one label: `template` (checked by `check_template`) with the label in its `{}`."""
    return template.format(label)


class _LabelCache:
    """LRU cache of label-text embeddings per (model, checkpoint, precision, language, text).

    Repeating a comparison with the same labels then skips the text tower entirely. The precision is
    part of the key: one model may be loaded in fp32 for the tabs and in bf16 for an evaluation, and
    the tabs must never be served the bf16 vectors.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, encoder: Encoder, texts: list[str], language: str | None) -> np.ndarray:
        model = (encoder.key, encoder.model_id, str(encoder.dtype))
        keys = [(*model, language or "", text) for text in texts]
        with self._lock:
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            vectors = encoder.embed_texts([key[-1] for key in missing], language=language)
            with self._lock:
                for key, vector in zip(missing, vectors, strict=True):
                    found[key] = self._entries[key] = vector
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return np.stack([found[key] for key in keys])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


label_cache = _LabelCache()


def classify(
    image: Image.Image,
    labels: str | Iterable[str],
    *,
    model: str = DEFAULT_MODEL_KEY,
    template: str | None = DEFAULT_TEMPLATE,
    language: str | None = None,
    settings: Settings | None = None,
) -> list[dict[str, float | str]]:
    """Score `image` against `labels` with one registry model.

    Args:
        image: A PIL image of any mode and size.
        labels: Comma-separated labels or a list of labels (see `parse_labels`).
        model: Registry key.
        template: Sentence with `{}` where each label goes.
        language: Source-language code for models that need it (NLLB-CLIP, e.g. `fra_Latn`);
            ignored by the others.
        settings: Settings to load the model with (default: the process-wide ones).

    Returns:
        `[{"label": str, "score": float}]`, highest score first.

    Raises:
        InvalidInputError: bad labels, template or language.
        UnknownModelError, ModelLoadError: the model cannot be used.
    """
    names = parse_labels(labels)
    template = check_template(template)
    encoder = get_encoder(model, settings)
    image_embedding = encoder.embed_images([image])[0]
    text_embeddings = label_cache.embed(encoder, [fill_template(template, name) for name in names], language)
    scores = encoder.scores(image_embedding, text_embeddings)
    ranked = sorted(zip(names, scores.tolist(), strict=True), key=lambda pair: -pair[1])
    return [{"label": name, "score": float(score)} for name, score in ranked]
