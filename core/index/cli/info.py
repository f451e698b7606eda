"""`python app.py index info [NAME]`: list the indexes, or describe (and verify) one."""

from __future__ import annotations

import argparse
from typing import Any

from core.config import Settings
from core.index.cli.args import command
from core.index.cli.examples import INFO_EXAMPLES
from core.index.cli.output import print_list, print_manifest
from core.index.format.catalog import list_indexes
from core.index.format.layout import index_path, index_root
from core.index.format.manifest import index_size, read_manifest
from core.index.format.store import IndexStore
from core.index.searching.load import load_index


def add_info(commands: Any) -> None:
    info = command(commands, "info", "List the indexes, or describe one.", INFO_EXAMPLES)
    info.add_argument("name", nargs="?", help="Index name (default: list every index).")
    info.add_argument("--verify", action="store_true", help="Check every file and thumbnail checksum.")
    info.add_argument("--json", action="store_true", help="Print the manifest (or the list) as JSON.")
    info.set_defaults(run=run_info)


def run_info(args: argparse.Namespace, settings: Settings) -> int:
    if args.name is None:
        print_list(list_indexes(settings), index_root(settings), args.json)
        return 0
    folder = index_path(args.name, settings)
    manifest = read_manifest(folder)
    sampled = False
    if args.verify:
        IndexStore.named(args.name, settings).verify()
    else:  # checks the data files and their checksums
        sampled = load_index(args.name, settings=settings, mmap=True).verified == "sampled"
    if args.json:
        print(manifest.to_json(), end="")
    else:
        print_manifest(manifest, folder, index_size(folder, manifest), args.verify, sampled)
    return 0
