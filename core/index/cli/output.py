"""What `python app.py index ...` prints: the build's progress bar and report, hits, index descriptions."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.index.format.catalog import IndexInfo
from core.index.format.layout import LOCK, MANIFEST
from core.index.format.manifest import Manifest


class ProgressBar:
    """A tqdm bar (items/s and ETA) driven by the builders' `progress(done, total)` callback."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total or None, initial=done, unit=self.unit, dynamic_ncols=True, smoothing=0.1
            )
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def print_report(report: Any) -> None:
    unit = "img" if report.kind == "image" else "text"
    changes = (
        f"added {report.added}, updated {report.updated}, kept {report.kept}, removed {report.removed}"
        + (f", resumed {report.resumed}" if report.resumed else "")
    )
    index_type = report.index_type
    params = report.index_params
    if report.index_type == "hnsw":
        index_type += (
            f" (M={params['M']}, efSearch={params['ef_search']}, recall@10={params['recall_at_10']})"
        )
    elif report.index_type == "ivf":
        index_type += (
            f" (nlist={params['nlist']}, nprobe={params['nprobe']}, recall@10={params['recall_at_10']})"
        )
    elif report.index_type == "ivfpq":
        index_type += (
            f" (compressed: {params['m']} bytes/item, {size_text(params['index_bytes'])} in memory, "
            f"nprobe={params['nprobe']}, re-ranking {params['candidates']}, "
            f"recall@10={params['recall_at_10']})"
        )
    lines = [
        f"Index '{report.name}' ({report.kind}, model {report.model_key}, {index_type}): {report.path}",
        f"  items:   {report.count} ({changes})",
        f"  skipped: {len(report.skipped)}",
        *[f"    {s.item}: {s.reason}" for s in report.skipped[:20]],
        *([f"    ... and {len(report.skipped) - 20} more"] if len(report.skipped) > 20 else []),
        f"  speed:   {report.items_per_second:.1f} {unit}/s ({report.embedded} embedded in "
        f"{report.embed_seconds:.1f} s; {report.seconds:.1f} s in all)",
        f"  size:    {size_text(report.size_bytes)} on disk",
        *[f"  note:    {note}" for note in report.notes],
    ]
    print("\n".join(lines))


def print_hits(name: str, hits: list[Any], k: int, as_json: bool, filtered: bool = False) -> None:
    """`index search`: the hits, best first (or as JSON), and why there are fewer than k."""
    if as_json:
        rows = [{**asdict(hit), "thumbnail": str(hit.thumbnail) if hit.thumbnail else None} for hit in hits]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        print("No item passes the filters." if filtered else f"Index '{name}' is empty.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>3}. {hit.score:.4f}  {hit_line(hit.metadata, hit.id)}")
        if hit.thumbnail is not None:
            print(f"     {hit.thumbnail}")
    if 0 < len(hits) < k and filtered:
        print(f"(Only {len(hits)} items pass the filters.)")
    elif 0 < len(hits) < k:
        print(f"(k={k} is more than the index holds: these are all {len(hits)} items.)")


def hit_line(metadata: dict[str, Any], row: int) -> str:
    """One line for a result: its title, path or text, then the other descriptive fields."""
    label_fields = ("title", "path", "text")
    fallback = f"row {metadata.get('row', row)}"
    label = next((str(metadata[f]) for f in label_fields if metadata.get(f)), fallback)
    extra = [str(metadata[f]) for f in ("artist", "style", "genre", "caption") if metadata.get(f)]
    return label + (f"  ({' · '.join(extra)})" if extra else "")


def print_manifest(
    manifest: Manifest, folder: Path, size_bytes: int, verified_thumbnails: bool, sampled: bool = False
) -> None:
    """`index info NAME`: the manifest in lines a person reads (`sampled`: large data files were
    checked by size and sampled blocks only)."""
    params = ", ".join(f"{k}={v}" for k, v in manifest.index_params.items())
    source = ", ".join(f"{k}={v}" for k, v in manifest.source.items() if v not in (None, [], ""))
    last = manifest.last_build
    checksums = "files and thumbnails verified" if verified_thumbnails else "data files verified"
    if sampled and not verified_thumbnails:
        checksums = "data files checked (large ones by size and sampled blocks; --verify hashes every byte)"
    lines = [
        f"Index '{manifest.name}' at {folder}",
        f"  kind:      {manifest.kind}",
        f"  model:     {manifest.model_key} ({manifest.model_id}), {manifest.dim}-d, {manifest.metric}",
        f"  items:     {manifest.count}",
        f"  type:      {manifest.index_type}" + (f" ({params})" if params else "")
        + f", exact up to {manifest.exact_threshold:,}",
        f"  source:    {source}",
        *([f"  language:  {manifest.language}"] if manifest.language else []),
        f"  created:   {manifest.created}, updated {manifest.updated}",
        "  last run:  " + ", ".join(f"{k} {v}" for k, v in last.items() if k != "skipped_items"),
        f"  size:      {size_text(size_bytes)} on disk",
        f"  checksums: {checksums}",
    ]  # fmt: skip
    print("\n".join(lines))


def print_list(infos: list[IndexInfo], root: Path, as_json: bool) -> None:
    """`index info`: every index of `root`, one line each, and the unfinished builds."""
    if as_json:
        rows = [info.summary() for info in infos]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    unfinished = sorted(
        p.name for p in root.glob("*") if p.is_dir() and (p / LOCK).exists() and not (p / MANIFEST).exists()
    )
    if not infos and not unfinished:
        print(f"No indexes in {root}. Build one with: python app.py index build NAME --folder PATH")
        return
    print(f"Indexes in {root}:")
    width = max([len(info.name) for info in infos] + [4])
    for info in infos:
        print(
            f"  {info.name:<{width}}  {info.kind:<5}  {info.model_key:<19}  {info.count:>9,} items  "
            f"{info.index_type:<4}  {size_text(info.size_bytes):>9}  updated {info.updated}"
        )
    for name in unfinished:
        print(f"  {name:<{width}}  unfinished build: re-run its `index build` command to resume it")


def size_text(size: float) -> str:
    """1234567 -> "1.2 MB"."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"
