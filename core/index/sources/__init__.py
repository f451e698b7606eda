"""Sources of index items: a folder of images, a text file, a Hugging Face dataset (images or texts),
images uploaded in the app.

    base        Item (plain, picklable fields) and Source; identity, labels, JSON-safe metadata
    folder      a folder of images, searched recursively, with optional metadata files beside them
    text_file   .txt (one text per line), .csv or .jsonl
    hf_dataset  a Hugging Face dataset, streamed: images or texts of a column, ClassLabel names
    uploads     images and zips uploaded in the app, read without unpacking anything to disk

Each module imports only those above it.
"""

from core.index.sources.base import Item, Source, identity_of, source_label
from core.index.sources.folder import FolderSource
from core.index.sources.hf_dataset import DatasetSource, readable_label
from core.index.sources.text_file import TextFileSource
from core.index.sources.uploads import Upload, UploadLimits, UploadSource, scan_upload

__all__ = [
    "DatasetSource",
    "FolderSource",
    "Item",
    "Source",
    "TextFileSource",
    "Upload",
    "UploadLimits",
    "UploadSource",
    "identity_of",
    "readable_label",
    "scan_upload",
    "source_label",
]
