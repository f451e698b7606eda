"""Metrics from score matrices, in numpy: zero-shot accuracy and confusion, retrieval recall@k.

Rankings sort scores from high to low; ties keep the lower index first (as a stable sort does), so
results do not depend on the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A sigmoid score below this means the model does not think the label fits ("none of these").
ABSTAIN_BELOW = 0.5
RECALL_AT = (1, 5, 10)


@dataclass(frozen=True)
class ZeroShotMetrics:
    """Metrics of one model over N images and C classes (fractions in [0, 1]).

    Attributes:
        top1, top5: Share of images whose class is the best-scored one / among the 5 best (all of
            them when there are 5 classes or fewer).
        mean_per_class_recall: The mean over classes of `per_class` (each class counts the same).
        per_class: Share of each class's images classified as that class (its recall).
        confusion: C x C counts: row = true class, column = predicted class.
        abstain: Share of images whose best class scores below 0.5 (sigmoid models: "none of these");
            None for softmax models, whose scores always pick one class.
        predictions: Predicted class of each image.
    """

    top1: float
    top5: float
    mean_per_class_recall: float
    per_class: tuple[float, ...]
    confusion: tuple[tuple[int, ...], ...]
    abstain: float | None
    predictions: tuple[int, ...]


def rank_of(scores: np.ndarray, targets: Sequence[int], chunk: int = 1024) -> np.ndarray:
    """For each row, the 0-based rank of column `targets[row]` when the row is sorted from the highest
    score down, ties in column order: what `argsort(-scores, kind="stable")` would give, without
    sorting (1,000 classes x 50,000 images, or 25,000 captions x 5,000 images, stay cheap)."""
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    ranks = np.empty(len(targets), dtype=np.int64)
    columns = np.arange(scores.shape[1])
    for start in range(0, len(targets), chunk):
        rows = scores[start : start + chunk]
        wanted = targets[start : start + chunk]
        own = rows[np.arange(len(rows)), wanted][:, None]
        ahead = (rows > own) | ((rows == own) & (columns[None, :] < wanted[:, None]))
        ranks[start : start + chunk] = ahead.sum(axis=1)
    return ranks


def zeroshot_metrics(scores: np.ndarray, labels: Sequence[int], *, sigmoid: bool) -> ZeroShotMetrics:
    """Metrics from (N, C) scores and the true class of each image.

    Args:
        scores: Scores of each image (row) for each class (column).
        labels: True class index of each image.
        sigmoid: Scores are independent probabilities (SigLIP-type), so `abstain` is measured.
    """
    scores = np.asarray(scores)
    truth = np.asarray(labels, dtype=np.int64)
    count, classes = scores.shape
    predicted = np.argmax(scores, axis=1)  # the first of equal best scores, as a stable sort has it
    ranks = rank_of(scores, truth)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion), per_class_total, out=np.zeros(classes), where=per_class_total > 0
    )
    present = per_class_total > 0
    best = scores[np.arange(count), predicted]
    return ZeroShotMetrics(
        top1=float((ranks == 0).mean()) if count else 0.0,
        top5=float((ranks < 5).mean()) if count else 0.0,
        mean_per_class_recall=float(per_class[present].mean()) if present.any() else 0.0,
        per_class=tuple(float(value) for value in per_class),
        confusion=tuple(tuple(int(value) for value in row) for row in confusion),
        abstain=float((best < ABSTAIN_BELOW).mean()) if sigmoid and count else None,
        predictions=tuple(int(value) for value in predicted),
    )


def recall_at_k(
    similarity: np.ndarray, caption_image: Sequence[int], ks: Sequence[int] = RECALL_AT
) -> dict[str, dict[str, float]]:
    """Image-text retrieval recall@k from (I, T) image-caption similarities, as in COCO and Flickr30k.

    An image query is a hit at k when any of its captions is among the k best captions; a caption query
    when its image is among the k best images. Images without a caption are searched for but asked
    nothing.

    Returns:
        `{"image_to_text": {"R@1": ...}, "text_to_image": {...}}`, fractions in [0, 1].
    """
    similarity = np.asarray(similarity)
    owner = np.asarray(caption_image, dtype=np.int64)
    text_ranks = rank_of(similarity.T, owner)
    # An image query's rank is that of its best-scored caption (the first of equal ones).
    own = similarity[owner, np.arange(len(owner))]
    order = np.lexsort((np.arange(len(owner)), -own, owner))  # by image, best score first
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    image_ranks = rank_of(similarity[owner[first]], first)
    return {
        "image_to_text": {f"R@{k}": float((image_ranks < k).mean()) for k in ks},
        "text_to_image": {f"R@{k}": float((text_ranks < k).mean()) for k in ks},
    }
