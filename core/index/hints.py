"""How to fix it: the one place where the index core's messages spell out commands and flags.

The core is a library; its errors say what went wrong, and end with the way out a user of the
command line (the most common reader) can run. Keeping every such sentence here means the core's other
modules never need to know the CLI's syntax. (The command line itself, `core.index.cli`, and the dataset
card that `index push` writes spell commands too: they are the CLI's own text.)
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

INDEX_DIR = "--index-dir PATH (or SIGLIP_PROJECTS_INDEX_DIR)"
REPLACE = "add --rebuild (rebuild=True) to replace it"


def build_command(name: str) -> str:
    """How to build a new index `name` from any source."""
    return f"python app.py index build {name} --folder PATH"


def no_index_hint(model_key: str) -> str:
    """How to make an image index for model `model_key`: from the WikiArt dataset, a folder, or the app."""
    return (
        f"Build one with `python app.py index build wikiart-{model_key} --dataset huggan/wikiart "
        f"--limit 2000 --model-key {model_key}` (or --folder PATH), or create a collection in the Your "
        "images tab; it is searchable at once."
    )


def image_index_hint() -> str:
    return (
        "Build one with `python app.py index build NAME --folder PATH`, or create a collection in the "
        "Your images tab."
    )


def update_hint(name: str) -> str:
    return f"update it with its own `python app.py index build {name} ...` command"


def folder_build_hint() -> str:
    return "index a folder with `python app.py index build NAME --folder PATH`, which has no limit"


def pull_hint(example: bool = False) -> str:
    """How to pull an index from the Hub: the command, or an example of it."""
    if example:
        return "e.g. `python app.py index pull my-user/wikiart-siglip`"
    return "Pull a repo made by `python app.py index push`."


def resume_hint(name: str) -> str:
    return f"Re-run the same `python app.py index build {name} ...` command to resume it."


def missing_hint(name: str) -> str:
    return (
        f"Build one with `{build_command(name)}` (or `--dataset NAME`, `--texts FILE`), or point "
        "--index-dir / SIGLIP_PROJECTS_INDEX_DIR at the folder that holds it."
    )


def rebuild_hint(name: str, source: Mapping[str, Any] | None = None, model_key: str | None = None) -> str:
    """How to rebuild index `name`, as specific as its manifest's source allows."""
    return f"Rebuild it: {rebuild_instruction(name, source, model_key)}."


def rebuild_instruction(
    name: str, source: Mapping[str, Any] | None = None, model_key: str | None = None
) -> str:
    """What to run to rebuild index `name`: its `index build` command, or for a collection uploaded in
    the app (whose images are not kept), how to make it again."""
    if (source or {}).get("type") == "upload":
        return (
            f"delete it (`{delete_command(name)}`, or in the app's Your images tab) and upload its images "
            "again"
        )
    return f"`{rebuild_command(name, source, model_key)}`"


def rebuild_command(name: str, source: Mapping[str, Any] | None = None, model_key: str | None = None) -> str:
    """The `index build` command that rebuilds index `name` from a manifest's `source`."""
    source = source or {}
    kind = source.get("type")
    parts = ["python app.py index build", name]
    if kind == "folder":
        parts += ["--folder", _quote(source.get("path", "PATH"))]
    elif kind == "dataset":
        parts += ["--dataset", _quote(source.get("name", "NAME")), "--split", source.get("split", "train")]
        if source.get("config"):
            parts += ["--config", source["config"]]
        column = source.get("text_column") or source.get("image_column")
        parts += ["--text-column" if source.get("text_column") else "--image-column", column or "image"]
        if source.get("limit"):
            parts += ["--limit", str(source["limit"])]
    elif kind == "file":
        parts += ["--texts", _quote(source.get("path", "FILE"))]
        if source.get("text_column"):
            parts += ["--text-column", source["text_column"]]
    else:
        parts += ["--folder PATH"]
    if model_key:
        parts += ["--model-key", model_key]
    return " ".join([*parts, "--rebuild"])


def delete_command(name: str) -> str:
    return f"python app.py index delete {name}"


def offline_hint() -> str:
    return (
        "Without the Hub, pull on a machine that reaches it (`python app.py index pull USER/REPO`) and "
        "copy the index folder over, or copy the repo's files into a folder and run "
        "`python app.py index pull FOLDER NAME`."
    )


def verify_command(name: str) -> str:
    return f"python app.py index info {name} --verify"


def same_language_hint() -> str:
    return f"Use the same --language, or {REPLACE}."


def other_name_hint() -> str:
    return f"Choose another index name, or {REPLACE}."


def disk_full_hint() -> str:
    return (
        f"Free some space, or build the index on another disk with {INDEX_DIR}; re-running the same "
        "command resumes the build."
    )


def writable_hint() -> str:
    return f"Choose a writable folder with {INDEX_DIR}."


def ray_install_hint() -> str:
    return "Install it with `pip install -r requirements-ray.txt` (or build with --engine local)."


def ray_cluster_hint() -> str:
    return (
        "Start the head with `ray start --head` and pass the address it prints to --ray-address "
        "(or leave --ray-address out to use a Ray instance on this machine)."
    )


def _quote(text: Any) -> str:
    return shlex.quote(str(text))
