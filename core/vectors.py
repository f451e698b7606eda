"""Embedding vectors as every part of the core passes them: (N, D) float32, rows L2-normalised."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

#: (N, D) float32, each row L2-normalised.
Embeddings: TypeAlias = np.ndarray


def normalize(vectors: np.ndarray) -> Embeddings:
    """L2-normalise rows in float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)
