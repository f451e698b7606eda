"""The results of an evaluation run, and the JSON and CSV other tools read.

The JSON's documented keys (task, images, classes or captions, and per model the metrics) keep exactly
the shape of issue 10; what else a run knows (the source, templates, the model each key loaded, skipped
images, models that could not run, the best model) sits beside them under other keys.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.evaluation.metrics import ZeroShotMetrics

Task = Literal["zeroshot", "retrieval"]


@dataclass(frozen=True)
class SkippedImage:
    """An image left out of the run: `item` names it (relative path, "row 12"), `reason` says why."""

    item: str
    reason: str


@dataclass(frozen=True)
class ModelResult:
    """One model's result: zero-shot `metrics` or retrieval `recall`, and how the run went."""

    key: str
    name: str
    seconds: float
    details: dict[str, Any]
    metrics: ZeroShotMetrics | None = None
    recall: dict[str, dict[str, float]] | None = None

    @property
    def score(self) -> float:
        """What "best model" compares: top-1 accuracy, or the mean of the six recall@k."""
        if self.metrics is not None:
            return self.metrics.top1 + 1e-6 * self.metrics.mean_per_class_recall  # ties: per-class recall
        values = [value for direction in (self.recall or {}).values() for value in direction.values()]
        return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class EvalReport:
    """Everything one run produced. `results` holds the models that ran, in the order asked."""

    task: Task
    source: str
    images: int
    results: dict[str, ModelResult]
    classes: tuple[str, ...] = ()
    captions: int = 0
    templates: tuple[str, ...] = ()
    language: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    skipped: tuple[SkippedImage, ...] = ()
    notes: tuple[str, ...] = ()
    #: The machine the speeds were measured on (CPU model and cores; GPUs used).
    machine: str = ""

    @property
    def frontier(self) -> tuple[str, ...]:
        """The models no other beats on both speed and score: each is faster than every more accurate
        model. Fastest first; models without a measured speed are left out."""
        return pareto_frontier(
            {key: (r.details.get("images_per_second"), r.score) for key, r in self.results.items()}
        )

    @property
    def best(self) -> str | None:
        """Key of the best model (highest top-1, or highest mean recall@k); None if none ran."""
        return max(self.results, key=lambda key: self.results[key].score, default=None)

    def model_json(self, result: ModelResult) -> dict[str, Any]:
        if result.recall is not None:
            return {direction: dict(values) for direction, values in result.recall.items()}
        metrics = result.metrics
        assert metrics is not None
        return {
            "top1": metrics.top1,
            "top5": metrics.top5,
            "mean_per_class_recall": metrics.mean_per_class_recall,
            "per_class": dict(zip(self.classes, metrics.per_class, strict=True)),
            "confusion": [list(row) for row in metrics.confusion],
            "abstain": metrics.abstain,
        }

    def to_json(self) -> dict[str, Any]:
        """The documented shape (see the module docstring), then the run's other facts."""
        head: dict[str, Any] = {"task": self.task, "images": self.images}
        head.update(
            {"classes": list(self.classes)} if self.task == "zeroshot" else {"captions": self.captions}
        )
        head["models"] = {key: self.model_json(result) for key, result in self.results.items()}
        return {
            **head,
            "best": self.best,
            "source": self.source,
            "templates": list(self.templates),
            "language": self.language,
            "details": {
                key: {"name": r.name, "seconds": round(r.seconds, 3), **r.details}
                for key, r in self.results.items()
            },
            "unavailable": dict(self.unavailable),
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
            "notes": list(self.notes),
            "machine": self.machine,
            "frontier": list(self.frontier),
        }

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def runtime_notes(self) -> list[str]:
        """One line per model: the image runtime that embedded its images and why (CPU runs measure
        it on the first batch, see `core.encoders.runtimes`)."""
        lines = []
        for result in self.results.values():
            runtime = result.details.get("image_runtime")
            if runtime:
                lines.append(
                    f"{result.name}: images embedded with {runtime['runtime']}: {runtime['reason']}."
                )
        return lines

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per model (numbers as fractions), the columns of the tables and of the CSV."""
        rows = []
        for key, result in self.results.items():
            row: dict[str, Any] = {"model": key, "name": result.name}
            if result.metrics is not None:
                row.update(
                    top1=result.metrics.top1,
                    top5=result.metrics.top5,
                    mean_per_class_recall=result.metrics.mean_per_class_recall,
                    abstain=result.metrics.abstain,
                )
            for direction, values in (result.recall or {}).items():
                short = "i2t" if direction == "image_to_text" else "t2i"
                row.update({f"{short} {k}": v for k, v in values.items()})
            row.update(
                images_per_second=result.details.get("images_per_second"),
                memory_mb=result.details.get("memory_mb"),
                seconds=round(result.seconds, 2),
                best=key == self.best,
            )
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        """The summary rows, plus per-class accuracy columns (`per_class:<class>`) for zero-shot."""
        rows = self.summary_rows()
        for row, result in zip(rows, self.results.values(), strict=True):
            if result.metrics is not None:
                row.update(
                    {f"per_class:{c}": v for c, v in zip(self.classes, result.metrics.per_class, strict=True)}
                )
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_csv(), encoding="utf-8")
        return path


def pareto_frontier(points: dict[str, tuple[float | None, float]]) -> tuple[str, ...]:
    """Keys of `points` ({key: (speed, score)}) that no other point matches or beats on both, one of
    them strictly; fastest first (ties: the higher score first). Points without a speed are left out."""
    ordered = sorted(
        ((speed, score, key) for key, (speed, score) in points.items() if speed is not None),
        key=lambda point: (-point[0], -point[1]),
    )
    chosen: list[str] = []
    best: tuple[float, float] | None = None  # the last point chosen
    for speed, score, key in ordered:
        if best is None or score > best[1] or (speed, score) == best:  # equal points: neither beats the other
            chosen.append(key)
            best = (speed, score)
    return tuple(chosen)
