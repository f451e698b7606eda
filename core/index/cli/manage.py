"""`python app.py index delete|push|pull`: removing an index, and sharing indexes through the Hub."""

from __future__ import annotations

import argparse
from typing import Any

from core.config import Settings
from core.index.cli.args import command
from core.index.format.store import IndexStore
from core.index.service.hub import pull, push

PUSH_EXAMPLES = """examples:
  huggingface-cli login                                     # once: a token that may write
  python app.py index push wikiart my-user/wikiart-siglip   # a dataset repo: the index and a card
  python app.py index push photos my-user/photos --private
"""

PULL_EXAMPLES = """examples:
  python app.py index pull my-user/wikiart-siglip wikiart   # download, verify, install as 'wikiart'
  python app.py index pull my-user/wikiart-siglip --revision v2 --replace
  python app.py index pull ./downloaded-snapshot wikiart    # a folder holding a repo's files

Every file is checked against the manifest before the index is installed; a repo holding any file
that is not part of an index is refused. SIGLIP_PROJECTS_GALLERY_REPO=USER/REPO makes the app pull its
default gallery this way on first start.
"""


def add_delete(commands: Any) -> None:
    delete = command(commands, "delete", "Delete an index (every version and thumbnail).", "")
    delete.add_argument("name", help="Index name.")
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    delete.set_defaults(run=run_delete)


def add_push(commands: Any) -> None:
    push = command(commands, "push", "Upload an index to a Hugging Face dataset repo.", PUSH_EXAMPLES)
    push.add_argument("name", help="Index name.")
    push.add_argument("repo_id", help="Dataset repo, USER/NAME (created if needed; its files are replaced).")
    push.add_argument("--private", action="store_true", help="Create the repo as private.")
    push.set_defaults(run=run_push)


def add_pull(commands: Any) -> None:
    pull = command(commands, "pull", "Install an index from a Hugging Face dataset repo.", PULL_EXAMPLES)
    pull.add_argument("source", help="Dataset repo USER/NAME, or a folder holding its files.")
    pull.add_argument("name", nargs="?", help="Index name to install it as (default: its own name).")
    pull.add_argument("--revision", help="Branch, tag or commit of the repo.")
    pull.add_argument("--replace", action="store_true", help="Replace an index of the same name.")
    pull.set_defaults(run=run_pull)


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    store = IndexStore.named(args.name, settings)
    if not args.yes:
        answer = input(f"Delete index '{args.name}' ({store.folder})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    store.delete()
    print(f"Deleted index '{args.name}'.")
    return 0


def run_push(args: argparse.Namespace, settings: Settings) -> int:
    url = push(args.name, args.repo_id, settings=settings, private=args.private)
    print(f"Pushed index '{args.name}' to {url}")
    return 0


def run_pull(args: argparse.Namespace, settings: Settings) -> int:
    manifest = pull(
        args.source, args.name, settings=settings, revision=args.revision, replace_existing=args.replace
    )
    what = f"{manifest.count:,} {manifest.kind}s, model {manifest.model_key}"
    print(f"Installed index '{manifest.name}' ({what}); every file verified.")
    print(f"Search it: python app.py index search {manifest.name} --text ...")
    return 0
