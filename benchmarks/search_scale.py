"""Search at scale: compressed and IVF-Flat indexes against exact search, up to millions of 768-d vectors.

    python -m benchmarks.search_scale                      # 1M rows: IVF-Flat and IVF-PQ (~15 min)
    nice python -m benchmarks.search_scale --rows 5000000  # 5M: needs ~25 GB of disk, ~3 GB of RAM
    python -m benchmarks.search_scale --rows 200000 --hnsw # also HNSW, as core.index builds it

Vectors have the nested neighbourhoods of real embeddings: unit vectors around 10,000 sub-centres,
themselves spread around 100 topics (`--structure flat`: around 2,000 centres only). They are made a
chunk at a time and streamed to a `.npy` file (5M x 768 float32 is 15 GB), then memory-mapped; queries
are held-out rows drawn the same way (never indexed). In one run, for the same queries:
  * exact: `core.index.ann.exact_search` over all rows (the ground truth, in chunks) and, timed per
    query, over the first `--exact-rows` rows in memory (its latency grows linearly with the rows);
  * IVF-Flat as `core.index` builds it today, over the first `--flat-rows` rows (it keeps every
    float32 vector in RAM: 3 GB per million 768-d rows);
  * the compressed index (IVF-PQ sized to `--memory-budget`, re-ranked from float16 vectors on disk)
    at the same size, and over all rows.
Each index is built with `ann.build_ann`, committed through `IndexStore` (checksums, manifest, float16
file) and searched by a new process that loads it with `load_index` (its own verification) and times
single queries through `search_batch`. That process reports its resident memory: its own (RssAnon)
and the pages of memory-mapped files it holds (RssFile: the OS page cache, shared, reclaimable), the
load time, and the time a full sha256 check (`index info --verify`) takes. Target: 5M x 768 with
recall@10 >= 0.95 at p50 <= 10 ms, the search process's own memory <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.index_threshold import clustered
from core.index import ann

WORK = Path(os.environ.get("SIGLIP_PROJECTS_BENCH_CACHE", Path.home() / ".cache" / "siglip-projects-bench"))
CHUNK = 50_000


def nested_centres(topics: int, per_topic: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """`topics x per_topic` unit sub-centres, each at cosine ~0.7 from its topic's centre."""
    tops = rng.standard_normal((topics, dim)).astype(np.float32)
    tops /= np.linalg.norm(tops, axis=1, keepdims=True)
    spread = 0.04 * rng.standard_normal((topics * per_topic, dim)).astype(np.float32)
    subs = np.repeat(tops, per_topic, axis=0) + spread
    return subs / np.linalg.norm(subs, axis=1, keepdims=True)


def rows_in_chunks(count: int, dim: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """`count` clustered rows in memory, generated 50k at a time (benchmarks.index_threshold uses it)."""
    data = np.empty((count, dim), np.float32)
    for start in range(0, count, CHUNK):
        data[start : start + CHUNK] = clustered(min(CHUNK, count - start), dim, rng, centres)
    return data


def vectors_on_disk(rows: int, dim: int, structure: str, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """(memory-mapped rows, held-out queries): made once per size and kept in `work` (a chunk at a time,
    each from its own seed, so the file is the same however often it is made)."""
    rng = np.random.default_rng(0)
    if structure == "nested":
        centres = nested_centres(100, 100, dim, rng)
    else:
        centres = rng.standard_normal((2000, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    queries = clustered(1000, dim, np.random.default_rng(1), centres)
    path = work / f"vectors-{structure}-{rows}x{dim}.npy"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npy")
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(rows, dim))
        for number, start in enumerate(range(0, rows, CHUNK)):
            chunk_rng = np.random.default_rng([2, number])
            out[start : start + CHUNK] = clustered(min(CHUNK, rows - start), dim, chunk_rng, centres)
        out.flush()
        del out
        partial.rename(path)
    return np.load(path, mmap_mode="r"), queries


def latencies_ms(search, queries: np.ndarray) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        search(query[None, :])
        times.append(1000 * (time.perf_counter() - started))
    return times


def commit(built: ann.BuiltIndex, count: int, dim: int, index_dir: Path, name: str) -> float:
    """Write `built` as index `name` through the store, with one metadata row per vector; seconds."""
    from core.index import IndexStore, Kind
    from core.index.format.store import BuildRecord

    store = IndexStore(index_dir / name)
    shutil.rmtree(store.folder, ignore_errors=True)
    store.folder.mkdir(parents=True)
    rows = [{"_key": f"row:{n}", "_signature": "", "_thumbnail": None, "row": n} for n in range(count)]
    record = BuildRecord(Kind.TEXT, "siglip", "synthetic", dim, 0, {"type": "benchmark"}, None)
    started = time.perf_counter()
    store.commit(rows, built, record)
    return time.perf_counter() - started


def searched_by_a_new_process(index_dir: Path, name: str, queries: np.ndarray, truth: np.ndarray) -> dict:
    """Load index `name` in a fresh process and search it there; what that process measured."""
    np.save(index_dir / "queries.npy", queries)
    np.save(index_dir / "truth.npy", truth)
    argv = [sys.executable, "-m", "benchmarks.search_scale", "--child", str(index_dir), name]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(index_dir: Path, name: str) -> None:
    """The search process: load (verified as load_index does), time single queries, report memory."""
    from core.config import Settings
    from core.index import IndexStore, load_index, search_batch
    from core.index.ann.tuning import recall_at

    settings = Settings.from_env().with_(index_dir=index_dir)
    queries, truth = np.load(index_dir / "queries.npy"), np.load(index_dir / "truth.npy")
    _evict(index_dir / name)  # cold: as after a restart, or when other work took the page cache
    started = time.perf_counter()
    index = load_index(name, settings=settings)
    load_s = time.perf_counter() - started
    cold = latencies_ms(lambda q: search_batch(index, q, 10), queries[:50])
    times = latencies_ms(lambda q: search_batch(index, q, 10), queries)
    found = [[hit.id for hit in hits] for hits in search_batch(index, queries, 10)]
    memory = _status()
    store = IndexStore(index_dir / name)
    started = time.perf_counter()
    store.verify_files(index.manifest, full=True)
    out = {
        "load_s": load_s, "verified": index.verified, "full_verify_s": time.perf_counter() - started,
        "cold_p50": statistics.median(cold), "first_ms": cold[0], "p50": statistics.median(times),
        "p99": float(np.percentile(times, 99)),
        "recall": recall_at(np.array(found), truth), **memory,
        "disk": sum(int(record["bytes"]) for record in index.manifest.files.values()),
        "params": {k: v for k, v in index.manifest.index_params.items() if k != "recall_queries"},
    }  # fmt: skip
    (index_dir / f"{name}.json").write_text(json.dumps(out))
    print(json.dumps(out))


def _evict(folder: Path) -> None:
    """Drop this index's files (and only them) from the OS page cache."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _status() -> dict[str, float]:
    """Resident memory of this process from /proc (MB): all, its own (anonymous), mapped files, peak."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in fields:
            out[fields[key]] = int(value.split()[0]) / 1024
    return out


def measure(label: str, make, count: int, dim: int, work: Path, queries, truth) -> None:
    started = time.perf_counter()
    built = make()
    build_s = time.perf_counter() - started
    name = label.split()[0].lower().replace("-", "")
    commit_s = commit(built, count, dim, work / "indexes", name)
    del built
    got = searched_by_a_new_process(work / "indexes", name, queries, truth)
    print(
        f"{label:<24} {count:>9,} {build_s:>7.0f} {commit_s:>6.0f} {got['disk'] / 1e9:>6.2f} "
        f"{got['anon']:>7.0f} {got['file']:>7.0f} {got['load_s']:>5.1f} {got['full_verify_s']:>6.1f} "
        f"{got['p50']:>6.2f} {got['p99']:>6.2f} {got['recall']:>6.3f}  {got['verified']} {got['params']}",
        flush=True,
    )
    shutil.rmtree(work / "indexes" / name, ignore_errors=True)


def _builder(rows: np.ndarray, options: dict):
    return lambda: ann.build_ann(rows, 0, **options)


def _exact_ms(rows: np.ndarray, queries: np.ndarray) -> float:
    return statistics.median(latencies_ms(lambda q: ann.exact_search(rows, q, 10), queries))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows of the largest index.")
    parser.add_argument("--flat-rows", type=int, help="Rows of the IVF-Flat baseline (default: up to 1M).")
    parser.add_argument("--exact-rows", type=int, help="Rows timed for exact search (default: up to 500k).")
    parser.add_argument("--dim", type=int, default=768, help="Dimension (SigLIP base: 768).")
    parser.add_argument("--queries", type=int, default=500, help="Held-out single queries timed.")
    parser.add_argument("--memory-budget", type=float, default=ann.DEFAULT_MEMORY_BUDGET / 2**30, help="GB.")
    parser.add_argument("--structure", choices=("nested", "flat"), default="nested")
    parser.add_argument(
        "--hnsw", action="store_true", help="Also HNSW at --flat-rows (slow: ~10 min per 1M)."
    )
    parser.add_argument("--opq", action="store_true", help="Also the compressed index with an OPQ rotation.")
    parser.add_argument("--keep", action="store_true", help="Keep the vector file for the next run.")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    import faiss

    started = time.perf_counter()
    work = WORK / "search-scale"
    data, queries = vectors_on_disk(args.rows, args.dim, args.structure, work)
    queries = queries[: args.queries]
    flat_rows, exact_rows = (
        args.flat_rows or min(args.rows, 1_000_000),
        args.exact_rows or min(args.rows, 500_000),
    )
    budget = int(args.memory_budget * 2**30)
    print(
        f"{os.cpu_count()} CPUs, FAISS {faiss.__version__} ({faiss.omp_get_max_threads()} OpenMP threads); "
        f"{args.rows:,} x {args.dim} {args.structure} clustered vectors on disk (ready in "
        f"{time.perf_counter() - started:.0f} s); {len(queries)} held-out single queries; memory budget "
        f"{args.memory_budget:g} GB",
        flush=True,
    )
    started = time.perf_counter()
    _, truth = ann.exact_search(data, queries, 10)
    truth_s = time.perf_counter() - started
    _, flat_truth = ann.exact_search(data[:flat_rows], queries, 10)
    exact = _exact_ms(np.array(data[:exact_rows]), queries[:50])
    print(
        f"exact: {exact:.1f} ms p50 per query over {exact_rows:,} rows in memory, so ~"
        f"{exact * args.rows / exact_rows:.0f} ms over {args.rows:,} (linear in rows; would need "
        f"{args.rows * args.dim * 4 / 1e9:.1f} GB of RAM); ground truth of all queries over all rows "
        f"from the file in {truth_s:.0f} s"
    )
    header = (
        f"\n{'index':<24} {'rows':>9} {'build s':>7} {'commit':>6} {'disk GB':>6} {'RAM MB':>7} "
        f"{'cache MB':>7} {'load s':>5} {'verify':>6} {'p50 ms':>6} {'p99 ms':>6} {'recall':>6}  "
        "checked, params"
    )
    print(
        header
        + "\n(RAM: the search process's own resident memory; cache: its resident pages of mapped files)"
    )
    flat = np.array(data[:flat_rows]) if flat_rows < args.rows else data
    compressed = {"index_type": "ivfpq", "memory_budget": budget}
    runs = [("IVF-Flat (today)", {"index_type": "ivf"})]
    runs += [("HNSW (today)", {"index_type": "hnsw"})] if args.hnsw else []
    runs += [("IVF-PQ + re-rank", compressed)]
    runs += [("IVF-PQ (OPQ) + re-rank", {**compressed, "opq": True})] if args.opq else []
    for label, options in runs:
        measure(label, _builder(flat, options), flat_rows, args.dim, work, queries, flat_truth)
    del flat
    if args.rows > flat_rows:
        measure("IVF-PQ + re-rank", _builder(data, compressed), args.rows, args.dim, work, queries, truth)
    print("target: 5M x 768 at recall@10 >= 0.95, p50 <= 10 ms, the search process's own RAM <= 2 GB")
    if not args.keep:
        (work / f"vectors-{args.structure}-{args.rows}x{args.dim}.npy").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
