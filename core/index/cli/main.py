"""`python app.py index ...`: the command line of the index tools, one module per sub-command.

Each sub-command's module declares its flags, calls the core and prints the result (the shared formats:
reports, hits, lists and the progress bar, are `core.index.cli.output`'s); the core itself never prints.
Errors a user can cause are raised as `SiglipProjectsError`, which app.py prints as `error: ...` with
exit code 2.
"""

from __future__ import annotations

import argparse

from core.index.cli.build import add_build
from core.index.cli.info import add_info
from core.index.cli.manage import add_delete, add_pull, add_push
from core.index.cli.search import add_search


def add_index_commands(parser: argparse.ArgumentParser) -> None:
    """Add `build`, `search`, `info`, `delete`, `push` and `pull` under the `index` command; each sets
    `run(args, settings)`."""
    commands = parser.add_subparsers(dest="index_command", metavar="{build,search,info,delete,push,pull}")
    parser.set_defaults(run=lambda args, settings: parser.print_help() or 0)
    add_build(commands)
    add_search(commands)
    add_info(commands)
    add_delete(commands)
    add_push(commands)
    add_pull(commands)
