"""Sources of index items: a folder of images, a text file, a Hugging Face dataset (images or texts),
images uploaded in the app."""

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
