"""Sharing indexes through the Hugging Face Hub: `push` an index to a dataset repo, `pull` one back.

A pushed repo holds the index's format and nothing else: `manifest.json`, `v<N>/index.faiss`,
`v<N>/metadata.jsonl`, `thumbnails/<sha>.jpg`, plus a dataset card (`README.md`) saying which model
built it and how. Pulling lists the repo (names and sizes) first and refuses it if it holds any other
file or too many bytes, downloads only the files its manifest names (`core.index.service.pulling`),
and installs it through `install_snapshot`: the index is
copied into a private folder, checked there like `index info --verify` does (every data file's size
and sha256 against the manifest, every thumbnail against its name, the FAISS file's shape against the
manifest), and only then renamed into place. A local snapshot folder goes through the same function.
Nothing is unpickled: manifest and metadata are JSON, vectors are FAISS's own format.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from core.checkpoints import is_reference
from core.config import Settings, get_settings
from core.errors import IndexLoadError, IndexWriteError, InvalidInputError
from core.index import hints
from core.index.format.fsio import writing
from core.index.format.layout import MANIFEST, check_name, index_path
from core.index.format.manifest import Manifest, read_manifest
from core.index.format.store import IndexStore
from core.index.service.pulling import CARD, MAX_MANIFEST_BYTES, check_repo_files, download_index
from core.index.sources.base import source_label
from core.registry import MODELS, get_spec

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def push(name: str, repo_id: str, *, settings: Settings | None = None, private: bool = False) -> str:
    """Upload index `name` to the dataset repo `repo_id` (created if needed), replacing what it held.

    Returns:
        The repo's URL.

    Raises:
        IndexLoadError: no such index, or a damaged one (it is verified before anything is sent).
        IndexWriteError: the Hub refused or could not be reached (the message says why).
    """
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    store = IndexStore.named(name, settings)
    store.verify()
    manifest = store.manifest()
    with tempfile.TemporaryDirectory(prefix="siglip-push-") as folder:
        stage_for_push(store, Path(folder), repo_id)
        try:
            api = HfApi()
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            api.upload_folder(
                repo_id=repo_id, repo_type="dataset", folder_path=folder, delete_patterns="*",
                commit_message=f"Index '{name}': {manifest.count:,} {manifest.kind}s, {manifest.model_key}",
            )  # fmt: skip
        except (OSError, ValueError) as error:
            raise IndexWriteError(f"Could not push index '{name}' to {repo_id}: {_reason(error)}") from None
    return f"https://huggingface.co/datasets/{repo_id}"


def stage_for_push(store: IndexStore, folder: Path, repo_id: str = "USER/REPO") -> list[str]:
    """Link (or copy) the files of the index's current version into `folder`, with its dataset card.

    Returns:
        The files written, relative to `folder`: what the repo will hold.
    """
    manifest = store.manifest()
    loaded = store.read(mmap=True)
    names = [MANIFEST, *manifest.files]
    names += sorted({row["_thumbnail"] for row in loaded.rows if loaded.thumbnail(row.get("_thumbnail"))})
    for relative in names:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(store.folder / relative, target)
        except OSError:
            shutil.copyfile(store.folder / relative, target)
    (folder / CARD).write_text(dataset_card(manifest, repo_id), encoding="utf-8")
    return [*names, CARD]


def dataset_card(manifest: Manifest, repo_id: str) -> str:
    """The repo's README.md: what the index holds, which model built it, and how to use it."""
    spec = get_spec(manifest.model_key) if manifest.model_key in MODELS else None
    model = f"{spec.name} (`{manifest.model_key}`)" if spec else f"`{manifest.model_key}`"
    return f"""---
tags:
- siglip-projects
- embeddings
- faiss
---

# Index '{manifest.name}': {manifest.count:,} {manifest.kind}s embedded with {model}

An embedding index made by [SigLIP Projects](https://github.com/) (`python app.py index push`).

- Model: {model}, checkpoint `{manifest.model_id}`, {manifest.dim}-dimensional vectors, {manifest.metric}
- Items: {manifest.count:,} {manifest.kind}s from {source_label(manifest.source)}
- FAISS index: {manifest.index_type} {manifest.index_params or ""}
- Built {manifest.created}, last updated {manifest.updated} (format {manifest.format_version})

`manifest.json` records the sha256 of every data file; thumbnails are named by their own sha256.

```bash
python app.py index pull {repo_id} {manifest.name}        # downloads and verifies every file
python app.py index search {manifest.name} --text "a stormy sea"
SIGLIP_PROJECTS_GALLERY_REPO={repo_id} python app.py      # as the app's default gallery
```
"""


def pull(
    source: str, name: str | None = None, *, settings: Settings | None = None, revision: str | None = None,
    replace_existing: bool = False,
) -> Manifest:  # fmt: skip
    """Install the index of a Hub dataset repo (or of a local snapshot folder) as index `name`.

    Args:
        source: A dataset repo id (`user/repo`), or a folder holding a downloaded snapshot.
        name: Index name to install it as; default: the name in its manifest.
        revision: Branch, tag or commit of the repo.
        replace_existing: Replace an index of the same name (otherwise that is refused).

    Returns:
        The installed index's manifest.

    Raises:
        IndexLoadError: the repo cannot be reached or read, holds files outside the format, or fails
            a check; nothing is installed then.
        InvalidInputError: a bad repo id or name, or the name is taken.
    """
    folder = Path(source).expanduser()
    if folder.is_dir():
        return install_snapshot(folder, name, settings=settings, replace_existing=replace_existing)
    check_repo_id(source)
    try:
        with tempfile.TemporaryDirectory(prefix="siglip-pull-") as download:
            download_index(source, revision, Path(download))
            return install_snapshot(
                Path(download), name, settings=settings, replace_existing=replace_existing
            )
    except (OSError, ValueError) as error:
        if isinstance(error, InvalidInputError):
            raise
        raise IndexLoadError(f"Could not pull {source}: {_reason(error)}") from None


def install_snapshot(
    folder: Path, name: str | None = None, *, settings: Settings | None = None, replace_existing: bool = False
) -> Manifest:
    """Check the index in a snapshot folder and install it as index `name` (see the module docstring).

    Raises:
        IndexLoadError: a link, a file outside the format, an unknown model, or a failed check.
        InvalidInputError: a bad name, or the name is taken and `replace_existing` is False.
    """
    settings = settings or get_settings()
    files = _snapshot_files(folder)
    check_repo_files(files, str(folder))
    if (folder / MANIFEST).stat().st_size > MAX_MANIFEST_BYTES:
        raise IndexLoadError(f"{folder / MANIFEST} is too large to be a manifest; nothing was installed.")
    manifest = read_manifest(folder)
    name = check_name(name or manifest.name)
    if manifest.model_key not in MODELS and not is_reference(manifest.model_key):
        raise IndexLoadError(
            f"The index was built with model '{manifest.model_key}', which this app does not know."
        )
    target = index_path(name, settings)
    if target.exists() and not replace_existing:
        raise InvalidInputError(
            f"An index named '{name}' already exists. Pull under another name, or replace it (--replace)."
        )
    staging = target.parent / f".pulling-{uuid.uuid4().hex[:8]}" / name
    try:
        _install_checked(folder, staging, replace(manifest, name=name), files)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    return read_manifest(target)


def _install_checked(folder: Path, staging: Path, manifest: Manifest, files: list[str]) -> None:
    """Copy the manifest's data files into `staging`, then the thumbnails its rows name, checking
    everything on the way (the thumbnails of other versions, and anything unreferenced, stay out)."""
    store = IndexStore(staging)
    try:
        with writing(staging.parent):
            _copy(folder, staging, [relative for relative in files if relative in manifest.files])
            store.publish(manifest)
            loaded = store.read(mmap=True)
            thumbnails = sorted(
                {row["_thumbnail"] for row in loaded.rows if loaded.thumbnail(row.get("_thumbnail"))}
            )
            _copy(folder, staging, [relative for relative in thumbnails if relative in files])
        store.verify()
    except IndexLoadError as error:
        raise IndexLoadError(
            f"The index in {folder} failed its checks, so it was not installed: {error}"
        ) from None


def _copy(folder: Path, staging: Path, relatives: list[str]) -> None:
    for relative in relatives:
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / relative, target)


def _snapshot_files(folder: Path) -> list[str]:
    """Every file under `folder` (relative, `/`-separated), refusing links; huggingface_hub's own
    download cache (`.cache/huggingface/`) is not part of the snapshot."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative == ".cache" or relative.startswith(".cache/"):
            continue
        if path.is_symlink():
            raise IndexLoadError(f"{folder} holds a symbolic link ({relative}); nothing was installed.")
        if path.is_file():
            found.append(relative)
    return found


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    store = IndexStore(target)
    old = target.with_name(f".replaced-{target.name}-{uuid.uuid4().hex[:8]}")
    with store.lock(), writing(target.parent):
        os.rename(target, old)
        os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def check_repo_id(repo_id: str) -> str:
    """Raises InvalidInputError unless `repo_id` looks like `user/name`."""
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id) or ".." in repo_id:
        raise InvalidInputError(
            f"{str(repo_id)[:80]!r} is not a dataset repo id (user/name) nor a folder: "
            f"{hints.pull_hint(example=True)}."
        )
    return repo_id


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"{text} {hints.offline_hint()}" if "offline" in text.lower() else text
