"""What every sub-command of `index` shares: how a sub-command is declared, and flag types."""

from __future__ import annotations

import argparse
from typing import Any

from core.errors import InvalidInputError
from core.index.build.options import parse_size


def command(commands: Any, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    """A sub-command with its help, description and examples."""
    return commands.add_parser(
        name, help=help, description=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def size(text: str) -> int:
    """An argparse type for sizes such as 4GB (`options.parse_size`)."""
    try:
        return parse_size(text)
    except InvalidInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
