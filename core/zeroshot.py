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
from core.registry import DEFAULT_MODEL_KEY

DEFAULT_TEMPLATE = "This is a photo of {}."
MAX_LABELS = 50
MAX_LABEL_CHARS = 300
#: Commas of several scripts: Latin, full-width (CJK), ideographic (Japanese), Arabic.
_LABEL_SEPARATORS = re.compile(r"[,，、،]")


def parse_labels(labels: str | Iterable[str]) -> list[str]:
    """Split comma-separated labels, trim them, drop empty ones and duplicates (first kept).

    Accepts the commas of Latin, CJK and Arabic scripts, or an already split list.

    Raises:
        InvalidInputError: no label is left, more than `MAX_LABELS`, or one is over `MAX_LABEL_CHARS`.
    """
    parts = _LABEL_SEPARATORS.split(labels) if isinstance(labels, str) else list(labels)
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
                f"The label '{label[:40]}...' is {len(label):,} characters long; "
                f"keep each label under {MAX_LABEL_CHARS} characters."
            )
    return unique


def check_template(template: str | None) -> str:
    """Return the template to use (the default when empty).

    Raises:
        InvalidInputError: the template has no `{}` where the label goes, or other braces.
    """
    if template is None or not template.strip():
        return DEFAULT_TEMPLATE
    if "{}" not in template:
        raise InvalidInputError(
            f"The template '{template}' has no {{}} where the label goes. Use e.g. '{DEFAULT_TEMPLATE}'."
        )
    try:
        template.format("label")
    except (IndexError, KeyError, ValueError):
        raise InvalidInputError(
            f"The template '{template}' may hold only one {{}} and no other braces. "
            f"Use e.g. '{DEFAULT_TEMPLATE}'."
        ) from None
    return template


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
    text_embeddings = label_cache.embed(encoder, [template.format(name) for name in names], language)
    scores = encoder.scores(image_embedding, text_embeddings)
    ranked = sorted(zip(names, scores.tolist(), strict=True), key=lambda pair: -pair[1])
    return [{"label": name, "score": float(score)} for name, score in ranked]
