"""`python app.py index ...`: placeholder until the index tools land."""

from __future__ import annotations

import argparse


def add_index_commands(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=lambda args, settings: parser.print_help() or 0)
