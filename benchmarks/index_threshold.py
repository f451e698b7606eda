"""Where exact search stops being cheap: measures the numbers behind `core.index.EXACT_THRESHOLD`.

For growing index sizes it times, in one run and on the same vectors:
  * FAISS `IndexFlatIP.search` (the baseline), with FAISS's default OpenMP threads and with 1 thread;
  * our exact search (`core.index.ann.exact_search`: a BLAS product over the same storage);
  * HNSW as `core.index` builds it (`ann.build_ann`: M, efConstruction, efSearch tuned to
    recall@10 >= 0.97 on held-out rows; each size adds rows to the previous graph), with its build
    time and its recall@10 on other held-out queries drawn like the data.
Latencies are medians over single queries, plus one batch of `--batch` queries; every ratio is
against the FAISS flat baseline of the same size. The suggested threshold is the largest size whose
exact single-query latency stays within `--budget-ms`.

    python -m benchmarks.index_threshold                      # 768-d, 10k..100k rows (about 5 minutes)
    python -m benchmarks.index_threshold --sizes 5000,20000 --dim 512
    python -m benchmarks.index_threshold --vectors my_embeddings.npy   # your own (N, D) float32 rows
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from core.index import ann
from core.index.ann import tuning


def clustered(count: int, dim: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around random centres: neighbourhoods like real embeddings have."""
    labels = rng.integers(0, len(centres), count)
    rows = centres[labels] + 0.06 * rng.standard_normal((count, dim), dtype=np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def median_ms(function, queries: np.ndarray) -> float:
    times = []
    for query in queries:
        started = time.perf_counter()
        function(query[None, :])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def once_ms(function, queries: np.ndarray) -> float:
    started = time.perf_counter()
    function(queries)
    return 1000 * (time.perf_counter() - started)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,25000,50000,100000", help="Index sizes to measure.")
    parser.add_argument("--dim", type=int, default=768, help="Embedding dimension (SigLIP base: 768).")
    parser.add_argument("--queries", type=int, default=100, help="Single queries timed per size.")
    parser.add_argument("--batch", type=int, default=32, help="Size of the batched query.")
    parser.add_argument("--budget-ms", type=float, default=10.0, help="Exact single-query latency budget.")
    parser.add_argument(
        "--vectors", type=Path, help="Use these (N, D) rows (.npy) instead of synthetic ones."
    )
    parser.add_argument("--no-hnsw", action="store_true", help="Skip building HNSW (fast run).")
    args = parser.parse_args(argv)

    import faiss

    rng = np.random.default_rng(0)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if args.vectors:
        data = np.load(args.vectors, allow_pickle=False).astype(np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        rng.shuffle(data)
        held_out, data = data[: args.queries + args.batch], data[args.queries + args.batch :]
        sizes = [size for size in sizes if size <= len(data)] or [len(data)]
        dim = data.shape[1]
    else:
        dim = args.dim
        centres = rng.standard_normal((1000, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        data = clustered(sizes[-1], dim, rng, centres)
        held_out = clustered(args.queries + args.batch, dim, rng, centres)
    singles, batch = held_out[: args.queries], held_out[args.queries : args.queries + args.batch]
    default_threads = faiss.omp_get_max_threads()
    print(
        f"{os.cpu_count()} CPUs, FAISS {faiss.__version__} with {default_threads} OpenMP threads, "
        f"numpy {np.__version__}; {dim}-d {'given' if args.vectors else 'clustered synthetic'} vectors; "
        f"medians over {len(singles)} single queries, one batch of {len(batch)}."
    )
    header = (
        f"{'rows':>8} | {'flat 1q':>8} {'flat 1q 1thr':>12} {'exact 1q':>13} | "
        f"{'flat b':>8} {'exact b':>13} | {'hnsw 1q':>13} {'hnsw b':>13} "
        f"{'ef':>4} {'recall':>6} {'build s':>7}"
    )
    print(header)
    print("-" * len(header))
    built = None
    exact_single: dict[int, float] = {}
    for size in sizes:
        rows = data[:size]
        flat = ann.flat_index(rows)
        faiss.omp_set_num_threads(default_threads)
        flat_1q = median_ms(lambda q, flat=flat: flat.search(q, 10), singles)
        flat_b = once_ms(lambda q, flat=flat: flat.search(q, 10), batch)
        faiss.omp_set_num_threads(1)
        flat_1q_1t = median_ms(lambda q, flat=flat: flat.search(q, 10), singles)
        faiss.omp_set_num_threads(default_threads)
        stored = ann.vectors_of(flat)
        exact_1q = median_ms(lambda q, stored=stored: ann.exact_search(stored, q, 10), singles)
        exact_b = once_ms(lambda q, stored=stored: ann.exact_search(stored, q, 10), batch)
        exact_single[size] = exact_1q
        line = (
            f"{size:>8} | {flat_1q:>6.2f}ms {flat_1q_1t:>7.2f}ms x{flat_1q / flat_1q_1t:<3.1f} "
            f"{exact_1q:>6.2f}ms x{flat_1q / exact_1q:<4.1f} | "
            f"{flat_b:>6.1f}ms {exact_b:>6.1f}ms x{flat_b / exact_b:<4.1f} |"
        )
        if not args.no_hnsw:
            started = time.perf_counter()
            built = ann.build_ann(rows, exact_threshold=0, base=built)  # core.index's own path
            build_s = time.perf_counter() - started
            ef = built.params.get("ef_search", tuning.EF_SEARCH_STEPS[-1])
            hnsw = built.index
            hnsw_1q = median_ms(lambda q, ef=ef, index=hnsw: ann.hnsw_search(index, q, 10, ef), singles)
            hnsw_b = once_ms(lambda q, ef=ef, index=hnsw: ann.hnsw_search(index, q, 10, ef), batch)
            _, truth = ann.exact_search(stored, held_out, 10)
            _, found = ann.hnsw_search(hnsw, held_out, 10, ef)
            kind = "" if built.index_type == "hnsw" else " (rejected: stays exact)"
            line += (
                f" {hnsw_1q:>6.2f}ms x{flat_1q / hnsw_1q:<4.1f} {hnsw_b:>6.1f}ms x{flat_b / hnsw_b:<4.1f}"
                f" {ef:>4} {recall_at_10(found, truth):>6.3f} {build_s:>7.1f}{kind}"
            )
        print(line, flush=True)
    print(
        "(xN: times faster than FAISS IndexFlatIP with its default threads at the same size; "
        "build s: adding the new rows plus tuning efSearch)"
    )

    within = [size for size, ms in exact_single.items() if ms <= args.budget_ms]
    per_row = statistics.median(ms / size for size, ms in exact_single.items())
    print(
        f"Exact single-query search costs about {1e4 * per_row:.2f} ms per 10k rows at {dim}-d; "
        f"a {args.budget_ms:g} ms budget allows about {args.budget_ms / per_row:,.0f} rows"
        + (f" (largest measured size within it: {max(within):,})." if within else ".")
    )
    print(f"core.index.EXACT_THRESHOLD is {ann.EXACT_THRESHOLD:,}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
