"""Sources of index items: a folder of images, a text file, a Hugging Face dataset (images or texts)."""

from core.index.sources.base import Item, Source, identity_of, source_label
from core.index.sources.folder import FolderSource
from core.index.sources.hf_dataset import DatasetSource, readable_label
from core.index.sources.text_file import TextFileSource

__all__ = [
    "DatasetSource",
    "FolderSource",
    "Item",
    "Source",
    "TextFileSource",
    "identity_of",
    "readable_label",
    "source_label",
]
