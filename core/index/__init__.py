"""Embedding indexes of images and texts: build (batched, resumable, incremental), store, search.

    from core.index import BuildOptions, FolderSource, build_index, load_index, search

    report = build_index("photos", FolderSource("~/Pictures"), BuildOptions(model_key="siglip"))
    index = load_index("photos", model_key="siglip")
    for hit in search(index, "a dog on a beach", k=5):
        print(hit.score, hit.metadata["path"], hit.thumbnail)

An index is a folder `<index_dir>/<name>/` holding a manifest, the FAISS index, the metadata of each
item and display thumbnails. The rooms of this package, one concern each (each
imports only those above it):

    hints       the one place the core's messages spell CLI commands (a leaf)
    ann/        FAISS: exact, HNSW, IVF, IVF-PQ; choose, build, tune, search, read and write files
    format/     the folder on disk: names and paths, manifest, thumbnails, .partial/, the store (the one
                reader and writer), verification, the model compatibility rule, the catalog (listing)
    sources/    Item and Source: folders, text files, Hugging Face datasets, app uploads
    build/      build_index: options (checked once), plan, reader, decoding, embedder, engines/
    searching/  open the index a request names (once), query vectors, filters, search, more like this
    service/    background jobs, the default WikiArt gallery, Hub push/pull, the app's collections
    cli/        `python app.py index ...`, one module per sub-command

Records of an index, one per stage of its life: `Manifest` (on disk), `IndexInfo` (listed by the
catalog), `LoadedIndex` (read for searching), `SearchTarget` (opened for one model by a request).
Importing this package loads no model and imports neither FAISS nor `datasets`.
"""

from core.errors import IndexLoadError, IndexMismatchError, IndexWriteError
from core.index.ann import EXACT_THRESHOLD
from core.index.build.driver import build_index
from core.index.build.options import BuildOptions, BuildReport
from core.index.build.plan import SkippedItem
from core.index.format.catalog import IndexInfo, list_indexes
from core.index.format.compat import check_compatible, check_settings, expected_model_id
from core.index.format.layout import IndexType, Kind, index_path, index_root
from core.index.format.loaded import LoadedIndex
from core.index.format.manifest import Manifest
from core.index.format.store import IndexStore
from core.index.searching.filters import filter_choices, parse_filters
from core.index.searching.load import as_hf_dataset, clear_cache, load_index, verify_index
from core.index.searching.query import Query, QueryPart, combine_parts, embed_query
from core.index.searching.resolve import open_index
from core.index.searching.search import Hit, search, search_batch, similar
from core.index.searching.target import SearchTarget
from core.index.sources import DatasetSource, FolderSource, Item, Source, TextFileSource
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
    "SearchTarget",
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
    "open_index",
    "parse_filters",
    "search",
    "search_batch",
    "similar",
    "verify_index",
]
