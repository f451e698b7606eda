"""Downloading a pushed index from a Hub dataset repo: the repo listed (names and sizes) first, then
only the files its manifest names, within a size limit.

1. `HfApi.list_repo_tree` lists every file with its size; a repo holding anything outside the format
   is refused (`FORMAT_FILES`), and so is one whose index files add up to more than `MAX_PULL_BYTES`.
2. The manifest alone is downloaded and read; every data file it names must be listed with the size
   it records (versions the manifest does not name are never downloaded).
3. Those data files are downloaded, then the thumbnails the metadata's rows name.

`core.index.service.hub.install_snapshot` then checks everything again before it installs the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from core.errors import IndexLoadError
from core.index import hints
from core.index.format.layout import MANIFEST, METADATA_FILE, THUMBNAILS
from core.index.format.manifest import read_manifest
from core.index.format.rows import read_rows

CARD = "README.md"
#: Files a repo may hold besides the index: its card, and git's attributes.
REPO_EXTRAS = frozenset({CARD, ".gitattributes"})
#: Names of the format's files, before the manifest says which version they belong to.
FORMAT_FILES = re.compile(
    rf"^(?:{re.escape(MANIFEST)}|v\d+/index\.faiss|v\d+/metadata\.jsonl|v\d+/vectors\.f16\.npy|"
    rf"{THUMBNAILS}/[0-9a-f]{{32}}\.jpg)$"
)
MAX_MANIFEST_BYTES = 10_000_000
#: Most bytes of index files one pull downloads (a 5M-image compressed index is about 4 GB).
MAX_PULL_BYTES = 20_000_000_000


def check_repo_files(files: Iterable[str], where: str) -> None:
    """Refuse a snapshot that holds anything but the format's files, a card and `.gitattributes`.

    Raises:
        IndexLoadError: the files outside the format (the first few), and that nothing was installed.
    """
    extras = sorted(name for name in files if name not in REPO_EXTRAS and not FORMAT_FILES.match(name))
    if extras:
        listed = ", ".join(extras[:5]) + (f" and {len(extras) - 5} more" if len(extras) > 5 else "")
        raise IndexLoadError(
            f"{where} holds files that are not part of an index ({listed}), so it was not installed. "
            f"{hints.pull_hint()}"
        )


def download_index(source: str, revision: str | None, folder: Path, max_bytes: int = MAX_PULL_BYTES) -> None:
    """Download into `folder` the files of repo `source` that its manifest names (see the module).

    Raises:
        IndexLoadError: files outside the format, too many bytes, or a manifest that does not match
            the listing; nothing is downloaded past the check that fails.
        OSError, ValueError: as huggingface_hub raises them (the caller says the repo could not be
            reached).
    """
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    tree = HfApi().list_repo_tree(source, recursive=True, revision=revision, repo_type="dataset")
    sizes = {entry.path: int(entry.size or 0) for entry in tree if isinstance(entry, RepoFile)}
    check_repo_files(sizes, source)
    total = sum(size for name, size in sizes.items() if FORMAT_FILES.match(name))
    if total > max_bytes or sizes.get(MANIFEST, 0) > MAX_MANIFEST_BYTES or MANIFEST not in sizes:
        raise IndexLoadError(
            f"{source} holds {total / 1e9:,.2f} GB of index files (a manifest of "
            f"{sizes.get(MANIFEST, 0):,} bytes); at most {max_bytes / 1e9:,.0f} GB with a manifest of "
            f"{MAX_MANIFEST_BYTES / 1e6:.0f} MB are pulled, so nothing was downloaded."
        )

    def fetch(names: list[str]) -> None:
        if names:
            snapshot_download(
                source, repo_type="dataset", revision=revision, local_dir=folder, allow_patterns=names
            )

    fetch([MANIFEST])
    manifest = read_manifest(folder)
    named = sorted(manifest.files)
    wrong = [name for name in named if sizes.get(name) != int(manifest.files[name].get("bytes", -1))]
    if wrong:
        raise IndexLoadError(
            f"{source}: the manifest names files the repo does not hold at the size it records "
            f"({', '.join(wrong[:3])}), so nothing more was downloaded. {hints.pull_hint()}"
        )
    fetch(named)
    rows = read_rows(folder / manifest.data_dir / METADATA_FILE)
    fetch(sorted({row["_thumbnail"] for row in rows if row.get("_thumbnail") in sizes}))
