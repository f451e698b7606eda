"""Which index for which size, and building it: `build_ann`.

Up to `EXACT_THRESHOLD` rows an index is exact (`IndexFlatIP`); above it, HNSW, and above
`IVF_THRESHOLD` IVF-Flat (`core.index.ann.graph`). An index whose float32 vectors would not fit the
memory budget, or of more than `COMPRESSED_THRESHOLD` rows, is compressed: IVF-PQ re-ranked from
float16 vectors on disk (`core.index.ann.compressed`). If no search breadth of an approximate index
reaches `tuning.MIN_RECALL`, the index stays exact (a compressed one keeps its best setting and says
so: an exact index would not fit the budget).
"""

from __future__ import annotations

import numpy as np

from core.index.ann.basics import BuiltIndex, IndexType, flat_index
from core.index.ann.compressed import MIN_PQ_TRAINING_ROWS, build_compressed
from core.index.ann.graph import HNSW_EF_CONSTRUCTION, HNSW_M, build_graph

#: Largest index searched exactly. Measured with benchmarks/index_threshold.py on 2 cores at D=768:
#: exact search of one query takes about 1.5 ms per 10k rows on a quiet machine (7 ms at 50k, 15 ms
#: at 100k) and up to twice that when the cores are shared, while HNSW answers in 0.3-1.5 ms.
#: 50k keeps exact search near a 10 ms budget.
EXACT_THRESHOLD = 50_000
#: Above this many rows, IVF-Flat instead of HNSW. Measured with benchmarks/search_scale.py on 2 cores
#: (nested-cluster 768-d rows, held-out queries): at 200k rows HNSW took 129 s to build (p50 0.87 ms,
#: recall@10 0.997) and IVF 16 s (0.46 ms, 0.978); at 1M rows IVF took 100 s (nprobe 16: p50 2.0 ms,
#: recall@10 0.993) where HNSW would take over 10 minutes.
IVF_THRESHOLD = 200_000
#: Default `BuildOptions.memory_budget`: RAM an approximate index may take when searched.
DEFAULT_MEMORY_BUDGET = 2 * 2**30
#: Above this many rows an index is compressed whatever the budget: at 1M rows IVF-Flat's cold queries
#: read whole lists from disk (p50 521 ms after the page cache was dropped) where IVF-PQ's took 3 ms,
#: at recall@10 0.994 vs 0.985 (benchmarks/search_scale.py, 2 cores).
COMPRESSED_THRESHOLD = 1_000_000


def choose_type(count: int, dim: int, memory_budget: int, ivf_threshold: int = IVF_THRESHOLD) -> IndexType:
    """The approximate index for `count` rows: compressed when their float32 vectors exceed the budget
    (or above `COMPRESSED_THRESHOLD` rows), else IVF-Flat above `ivf_threshold` rows, else HNSW."""
    too_big = count > COMPRESSED_THRESHOLD or count * (4 * dim + 8) > memory_budget
    if too_big and count >= 2 * MIN_PQ_TRAINING_ROWS:  # fewer rows cannot train the codebooks well
        return IndexType.IVFPQ
    return IndexType.IVF if count > ivf_threshold else IndexType.HNSW


def build_ann(
    vectors: np.ndarray,
    exact_threshold: int = EXACT_THRESHOLD,
    *,
    base: BuiltIndex | None = None,
    hnsw_m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
    ivf_threshold: int = IVF_THRESHOLD,
    index_type: IndexType | None = None,
    memory_budget: int | None = None,
    opq: bool = False,
) -> BuiltIndex:
    """Make the index for `vectors`: exact up to `exact_threshold` rows, HNSW above it, IVF-Flat
    above `ivf_threshold`, IVF-PQ (compressed) when the rows do not fit `memory_budget`.

    Args:
        vectors: (N, D) normalised float32 rows; row i gets id i.
        exact_threshold: Largest N searched exactly.
        base: An approximate index whose rows are the first rows of `vectors` (an earlier build): only
            the new rows are added to it (HNSW: to its graph; IVF: to its lists, with the same
            centroids) instead of building a new one.
        hnsw_m, ef_construction: HNSW construction parameters.
        ivf_threshold: Largest N indexed with HNSW rather than IVF.
        index_type: HNSW, IVF or IVFPQ whatever N is (N above exact_threshold).
        memory_budget: Bytes of RAM the index may take (default `DEFAULT_MEMORY_BUDGET`).
        opq: Rotate the rows (OPQ) before product quantisation.

    Returns:
        The index, its type and the parameters to record (HNSW: M, ef_construction, ef_search; IVF:
        nlist, nprobe; IVFPQ: nlist, m, nprobe, candidates; all with the measured recall@10; flat
        above the threshold: why the approximate index was not kept).

    Raises:
        InvalidInputError: the memory budget is too small for any compressed index of these rows.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # a memory map stays one
    count, dim = vectors.shape
    if count <= exact_threshold:
        return BuiltIndex(flat_index(vectors), IndexType.FLAT, {})
    budget = memory_budget or DEFAULT_MEMORY_BUDGET
    kind = IndexType(index_type or choose_type(count, dim, budget, ivf_threshold))
    if kind == IndexType.IVFPQ:
        return build_compressed(vectors, budget, base=base, opq=opq)
    return build_graph(
        vectors, kind, exact_threshold, base=base, hnsw_m=hnsw_m, ef_construction=ef_construction
    )
