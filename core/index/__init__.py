"""Embedding indexes of images and texts: build (batched, resumable, incremental), store, search.

    from core.index import BuildOptions, FolderSource, build_index, load_index, search

    report = build_index("photos", FolderSource("~/Pictures"), BuildOptions(model_key="siglip"))
    index = load_index("photos", model_key="siglip")
    for hit in search(index, "a dog on a beach", k=5):
        print(hit.score, hit.metadata["path"], hit.thumbnail)

An index is a folder `<index_dir>/<name>/` holding a manifest, the FAISS index, the metadata of each
item and display thumbnails. The rooms of this package, one concern each (data flows down the list):

    cli             `python app.py index ...`: flags to sources and options, printing only
    build           BuildOptions, BuildReport, build_index: lock -> plan -> read -> embed -> commit
    search          load_index (cached, checked), search, similar (more like this), Hit; catalog:
                    which index serves which model; jobs: background builds and their status
    query, filters  query vectors: texts, images, vectors, weighted and negative combinations;
                    metadata filters and the search among the rows that pass them
    collections     the app's uploaded collections: limits, ownership, background builds, deletion
    hub             push an index to a Hub dataset repo; pull one, every file verified
    plan            keep / resume / embed / skip per item, and the rows of the new version
    reader          items to chunks of loaded work, one step ahead of the model
    decode          CPU decode (JPEG draft mode), thumbnails, preprocessing, worker processes
    gpu_decode      batched nvJPEG decode, EXIF on tensors
    embedder        batches to vectors; one-by-one fallback; the int8 runtime
    ann, ann_tune   FAISS: flat / HNSW / IVF; choose, build, read, write, search; recall tuning
    compat          the one rule on which model may read or extend an index
    store           IndexStore: the one reader (`read`) and writer (`commit`) of the format; lock
    manifest, thumbnails, partial   the files of an index: manifest.json, thumbnails/, .partial/
    sources/        Item and Source; folder, text file, Hugging Face dataset, app uploads
    layout, fsio    names and paths; atomic writes, checksums, full-disk errors
    hints           the one place that spells CLI commands in messages

Importing this package loads no model and imports neither FAISS nor `datasets`.
"""

from core.errors import IndexLoadError, IndexMismatchError, IndexWriteError
from core.index.ann import EXACT_THRESHOLD
from core.index.build import BuildOptions, BuildReport, build_index
from core.index.compat import check_compatible, check_settings, expected_model_id
from core.index.filters import filter_choices, parse_filters
from core.index.layout import IndexType, Kind, index_path, index_root
from core.index.loaded import LoadedIndex
from core.index.manifest import IndexInfo, Manifest, list_indexes
from core.index.plan import SkippedItem
from core.index.query import Query, QueryPart, combine_parts, embed_query
from core.index.search import (
    Hit,
    as_hf_dataset,
    clear_cache,
    load_index,
    search,
    search_batch,
    similar,
    verify_index,
)
from core.index.sources import DatasetSource, FolderSource, Item, Source, TextFileSource
from core.index.store import IndexStore
from core.progress import ProgressCallback
from core.registry import DEFAULT_MODEL_KEY

__all__ = [
    "DEFAULT_MODEL_KEY",
    "EXACT_THRESHOLD",
    "BuildOptions",
    "BuildReport",
    "DatasetSource",
    "FolderSource",
    "Hit",
    "IndexInfo",
    "IndexLoadError",
    "IndexMismatchError",
    "IndexStore",
    "IndexType",
    "IndexWriteError",
    "Item",
    "Kind",
    "LoadedIndex",
    "Manifest",
    "ProgressCallback",
    "Query",
    "QueryPart",
    "SkippedItem",
    "Source",
    "TextFileSource",
    "as_hf_dataset",
    "build_index",
    "check_compatible",
    "check_settings",
    "clear_cache",
    "combine_parts",
    "embed_query",
    "expected_model_id",
    "filter_choices",
    "index_path",
    "index_root",
    "list_indexes",
    "load_index",
    "parse_filters",
    "search",
    "search_batch",
    "similar",
    "verify_index",
]
