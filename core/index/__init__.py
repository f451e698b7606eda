"""Embedding indexes of images and texts: build (batched, resumable, incremental), store, search.

    from core.index import build_image_index_from_folder, load_index, search

    report = build_image_index_from_folder("photos", "~/Pictures", model_key="siglip", progress=print)
    index = load_index("photos", model_key="siglip")
    for hit in search(index, "a dog on a beach", k=5):
        print(hit.score, hit.metadata["path"], hit.thumbnail)

An index is a folder `<index_dir>/<name>/` holding a manifest, the FAISS index, the metadata of each
item and display thumbnails (see `core.index.store` for the layout). Importing this package loads no
model and imports neither FAISS nor `datasets`.
"""

from core.index.build import (
    DEFAULT_MODEL_KEY,
    BuildReport,
    ProgressCallback,
    SkippedItem,
    build_image_index_from_dataset,
    build_image_index_from_folder,
    build_index,
    build_text_index_from_dataset,
    build_text_index_from_file,
)
from core.index.faiss_index import EXACT_THRESHOLD
from core.index.search import (
    Hit,
    LoadedIndex,
    Query,
    as_hf_dataset,
    check_model,
    clear_cache,
    embed_query,
    load_index,
    search,
    search_batch,
    verify_index,
)
from core.index.store import IndexInfo, IndexWriteError, Manifest, index_path, index_root, list_indexes

__all__ = [
    "DEFAULT_MODEL_KEY",
    "EXACT_THRESHOLD",
    "BuildReport",
    "Hit",
    "IndexInfo",
    "IndexWriteError",
    "LoadedIndex",
    "Manifest",
    "ProgressCallback",
    "Query",
    "SkippedItem",
    "as_hf_dataset",
    "build_image_index_from_dataset",
    "build_image_index_from_folder",
    "build_index",
    "build_text_index_from_dataset",
    "build_text_index_from_file",
    "check_model",
    "clear_cache",
    "embed_query",
    "index_path",
    "index_root",
    "list_indexes",
    "load_index",
    "search",
    "search_batch",
    "verify_index",
]
