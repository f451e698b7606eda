"""Pictures of an evaluation, as PNG files: accuracy per model, per-class accuracy, confusion matrices,
recall@k curves.

matplotlib's object API (a `Figure` per plot, no pyplot state), so plots can be drawn from several
threads of the app at once. Class names in any script render with DejaVu Sans and, where installed,
Noto Sans CJK.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any

import numpy as np

from core.evaluation.report import EvalReport

DPI = 110
#: Most classes shown by name in a heatmap; beyond it the per-class plot keeps the hardest ones.
MAX_NAMED_CLASSES = 60
#: Largest confusion matrix with a count written in each cell.
MAX_ANNOTATED = 20
METRIC_COLOURS = ("#4f46e5", "#a5b4fc", "#f59e0b")


@functools.cache
def _use_fonts() -> None:
    """Latin, Greek, Cyrillic and Arabic from DejaVu Sans, CJK from Noto where installed (once)."""
    import matplotlib
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    fonts = [name for name in ("DejaVu Sans", "Noto Sans CJK JP") if name in installed]
    matplotlib.rcParams["font.family"] = fonts or ["sans-serif"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    _use_fonts()
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _percent(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0))


def write_plots(report: EvalReport, folder: str | Path) -> dict[str, Path]:
    """Draw every plot of `report` into `folder`.

    Returns:
        {"accuracy" | "recall" | "per_class" | "tradeoff" | "confusion:<model key>": PNG path}, in
        display order.
    """
    folder = Path(folder)
    if report.task == "retrieval":
        plots = {"recall": recall_plot(report, folder / "recall_at_k.png")}
        return plots | {"tradeoff": tradeoff_plot(report, folder / "tradeoff.png")}
    plots = {
        "accuracy": accuracy_plot(report, folder / "accuracy.png"),
        "per_class": per_class_plot(report, folder / "per_class_accuracy.png"),
        "tradeoff": tradeoff_plot(report, folder / "tradeoff.png"),
    }
    for key in report.results:
        plots[f"confusion:{key}"] = confusion_plot(report, key, folder / f"confusion_{key}.png")
    _return_freed_memory()
    return plots


@functools.cache
def _libc() -> object | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows, musl): nothing to do
        return None


def _return_freed_memory() -> None:
    """Drawing leaves ~60 MB of freed memory in glibc's heap, per server thread that drew, which
    it keeps rather than returning (measured: resident memory +67 MB after 20 runs of the same five
    plots, back to the start after `malloc_trim`). Hand it back so a long-running app does not grow."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)  # type: ignore[attr-defined]


def _label(report: EvalReport, key: str) -> str:
    name = report.results[key].name
    return f"★ {name}" if key == report.best else name


def accuracy_plot(report: EvalReport, path: Path) -> Path:
    """Grouped bars per model: top-1, top-5 and mean per-class recall; the best model starred."""
    keys = list(report.results)
    figure = _figure(max(6.0, 1.5 * len(keys) + 2), 4.6)
    axes = figure.add_subplot()
    metrics = (("top-1", "top1"), ("top-5", "top5"), ("mean per-class recall", "mean_per_class_recall"))
    width = 0.8 / len(metrics)
    positions = np.arange(len(keys))
    for n, (title, field) in enumerate(metrics):
        values = [getattr(report.results[key].metrics, field) for key in keys]
        bars = axes.bar(positions + (n - 1) * width, values, width, label=title, color=METRIC_COLOURS[n])
        axes.bar_label(bars, labels=[f"{value:.0%}" for value in values], fontsize=8, padding=2)
    axes.set_xticks(positions, [_label(report, key) for key in keys], rotation=20 if len(keys) > 4 else 0)
    axes.set_ylim(0, 1.22)  # room for the value labels and the legend above 100%
    axes.set_yticks(np.linspace(0, 1, 6))
    _percent(axes.yaxis)
    axes.set_ylabel("share of images")
    axes.legend(loc="upper center", ncols=3, fontsize=8, frameon=False)
    axes.set_title(f"Zero-shot accuracy on {report.images:,} images, {len(report.classes)} classes")
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)


def tradeoff_plot(report: EvalReport, path: Path) -> Path:
    """Score against measured images per second (log scale), one point per model, with the frontier
    (the models no other beats on both) joined and starred: is the bigger model worth its cost here?"""
    keys = [key for key in report.results if report.results[key].details.get("images_per_second")]
    frontier = report.frontier
    figure = _figure(7.5, 4.8)
    axes = figure.add_subplot()
    speed = {key: report.results[key].details["images_per_second"] for key in keys}
    score = {key: report.results[key].score for key in keys}
    if frontier:
        axes.plot(
            [speed[k] for k in frontier], [score[k] for k in frontier], color=METRIC_COLOURS[1], zorder=1
        )
    for key in keys:
        on = key in frontier
        memory = report.results[key].details.get("memory_mb")
        axes.scatter(
            speed[key], score[key], s=90 if on else 45, marker="*" if on else "o", zorder=2,
            color=METRIC_COLOURS[0] if on else "#9ca3af",
        )  # fmt: skip
        size = "" if not memory else f"{memory / 1024:.1f} GB" if memory >= 1024 else f"{memory:.1f} MB"
        label = report.results[key].name + (f"\n{size}" if size else "")
        axes.annotate(label, (speed[key], score[key]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xscale("log")
    axes.margins(x=0.15, y=0.15)  # room for the names beside the points
    _percent(axes.yaxis)
    what = "top-1 accuracy" if report.task == "zeroshot" else "mean recall@k"
    axes.set_xlabel(
        f"images per second, measured on {report.machine or 'this machine'} (log scale)", fontsize=8
    )
    axes.set_ylabel(what)
    axes.set_title(f"{what.capitalize()} against speed: ★ the models no other beats on both", fontsize=10)
    axes.grid(alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)


def per_class_plot(report: EvalReport, path: Path) -> Path:
    """Heatmap of per-class accuracy (classes x models); above `MAX_NAMED_CLASSES`, the hardest ones."""
    keys = list(report.results)
    table = np.array([report.results[key].metrics.per_class for key in keys]).T  # type: ignore[union-attr]
    rows = np.arange(len(report.classes))
    title = "Per-class accuracy"
    if len(rows) > MAX_NAMED_CLASSES:
        rows = np.argsort(table.mean(axis=1), kind="stable")[:MAX_NAMED_CLASSES]
        title += f": the {MAX_NAMED_CLASSES} hardest of {len(report.classes)} classes (all are in the CSV)"
    figure = _figure(max(5.5, 1.3 * len(keys) + 3), max(3.0, 0.32 * len(rows) + 1.6))
    axes = figure.add_subplot()
    image = axes.imshow(table[rows], cmap="viridis", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(keys)), [_label(report, key) for key in keys], rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), [report.classes[n] for n in rows], fontsize=8)
    if table[rows].size <= 600:
        for (y, x), value in np.ndenumerate(table[rows]):
            colour = "black" if value > 0.6 else "white"
            axes.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=7, color=colour)
    _percent(figure.colorbar(image, ax=axes, shrink=0.8).ax.yaxis)
    axes.set_title(title, fontsize=10)
    return _save(figure, path)


def confusion_plot(report: EvalReport, key: str, path: Path) -> Path:
    """One model's confusion matrix: colour = share of the true class's images, counts written when small."""
    result = report.results[key]
    counts = np.array(result.metrics.confusion)  # type: ignore[union-attr]
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = len(report.classes)
    side = min(max(5.0, 0.34 * size + 2.5), 30.0)
    figure = _figure(side + 1, side)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if size <= MAX_NAMED_CLASSES:
        font = 9 if size <= 12 else 7
        axes.set_xticks(range(size), report.classes, rotation=45, ha="right", fontsize=font)
        axes.set_yticks(range(size), report.classes, fontsize=font)
    if size <= MAX_ANNOTATED:
        for (y, x), value in np.ndenumerate(counts):
            if value:
                colour = "white" if shares[y, x] > 0.55 else "black"
                axes.text(x, y, str(value), ha="center", va="center", fontsize=8, color=colour)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    _percent(figure.colorbar(image, ax=axes, shrink=0.8).ax.yaxis)
    top1 = result.metrics.top1  # type: ignore[union-attr]
    axes.set_title(f"{result.name}: confusion matrix (top-1 {top1:.0%})", fontsize=11)
    return _save(figure, path)


def recall_plot(report: EvalReport, path: Path) -> Path:
    """Recall@k curves per model, image-to-text and text-to-image side by side; the best model starred."""
    figure = _figure(10.0, 4.2)
    directions = (("image_to_text", "image → text"), ("text_to_image", "text → image"))
    for n, (direction, title) in enumerate(directions):
        axes = figure.add_subplot(1, 2, n + 1)
        for key, result in report.results.items():
            values = result.recall[direction]  # type: ignore[index]
            ks = [int(name.split("@")[1]) for name in values]
            best = key == report.best
            axes.plot(
                ks, list(values.values()), marker="o", linewidth=2.5 if best else 1.5,
                label=_label(report, key), zorder=3 if best else 2,
            )  # fmt: skip
        axes.set_xticks(ks, [f"R@{k}" for k in ks])
        axes.set_ylim(0, 1.02)
        _percent(axes.yaxis)
        axes.set_title(f"{title} ({report.images:,} images, {report.captions:,} captions)", fontsize=10)
        axes.grid(alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="lower right")
    return _save(figure, path)
