"""SigLIP Projects: the Gradio app (default) and the index tools.

python app.py                       # serve the app on http://127.0.0.1:7860
python app.py --model siglip=/models/siglip-base   # use a local checkpoint
python app.py index build --help    # build, search and inspect embedding indexes
python app.py eval zeroshot --help  # which model is best on your images: accuracy, recall, plots
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from core.config import Settings, set_settings
from core.errors import SiglipProjectsError
from core.limits import QUOTE_CHARS, quote
from core.registry import all_slots

#: Longest command-line error message (argparse lists unrecognized arguments whole).
MAX_ERROR_CHARS = 300
_LONG_QUOTED = re.compile(f"'([^']{{{QUOTE_CHARS + 1},}})'")


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors quote at most a short prefix of a bad argument (argparse's own
    messages repeat it whole: `invalid int value: '999…'`)."""

    def error(self, message: str) -> NoReturn:
        shortened = _LONG_QUOTED.sub(lambda match: quote(match[1]), message)
        if len(shortened) > MAX_ERROR_CHARS:
            shortened = f"{shortened[:MAX_ERROR_CHARS]}… ({len(shortened):,} characters)"
        super().error(shortened)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="app.py",
        description="SigLIP Projects: draw-to-search art, CLIP vs SigLIP, multilingual zero-shot, "
        "embedding index tools and evaluation on your own data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models (override any slot with --model SLOT=VALUE or SIGLIP_PROJECTS_MODEL_<SLOT>):\n"
        + "\n".join(f"  {slot:<22} {default}" for slot, default in all_slots().items()),
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="SLOT=VALUE",
        help="Load a model slot from another Hub id or a local folder (repeatable), "
        "e.g. --model siglip=/models/siglip-base-patch16-224.",
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        help="Folder of built indexes (default: SIGLIP_PROJECTS_INDEX_DIR or ./indexes).",
    )
    parser.add_argument(
        "--device", help="auto, cpu, cuda or cuda:N (default: SIGLIP_PROJECTS_DEVICE or auto)."
    )
    parser.add_argument("--batch-size", type=int, help="Items per model call when embedding.")
    parser.add_argument(
        "--loaded-models-gb",
        type=float,
        help="Most memory all loaded models may take, in GB (default: SIGLIP_PROJECTS_LOADED_MODELS_GB, "
        "or 60%% of the machine's memory); the least recently used are unloaded to make room.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug messages.")
    commands = parser.add_subparsers(dest="command", metavar="{serve,index,eval}")

    serve = commands.add_parser("serve", help="Serve the Gradio app (the default command).")
    add_serve_arguments(parser)
    # Also accept the flags after `serve`, without letting its defaults undo flags given before it.
    add_serve_arguments(serve, default=argparse.SUPPRESS)

    index = commands.add_parser("index", help="Build, update, search and inspect embedding indexes.")
    from core.index.cli.main import add_index_commands

    add_index_commands(index)

    evaluate = commands.add_parser(
        "eval", help="Evaluate every model on your own images: zero-shot accuracy, retrieval recall."
    )
    from core.evaluation.cli import add_eval_commands

    add_eval_commands(evaluate)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser, default: object = None) -> None:
    """Flags of `serve`, accepted with or without the sub-command (`python app.py --port 8000`)."""
    use_default = default is None
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1") if use_default else default,
        help="Address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for all).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")) if use_default else default,
        help="Port (default: GRADIO_SERVER_PORT or 7860).",
    )
    parser.add_argument(
        "--share",
        action="store_true",
        default=False if use_default else default,
        help="Create a public gradio.live link.",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes = {
        name: value
        for name, value in (
            ("index_dir", args.index_dir),
            ("device", args.device),
            ("batch_size", args.batch_size),
            ("loaded_models_gb", args.loaded_models_gb),
        )
        if value is not None
    }
    return settings.with_(**changes).with_model_overrides(args.model)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from apps import build_demo, launch

    demo = build_demo(settings)
    launch(demo, host=args.host, port=args.port, share=args.share, settings=settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = settings_from_args(args)
        set_settings(settings)
        if args.command in ("index", "eval"):
            return args.run(args, settings)
        return serve(args, settings)
    except SiglipProjectsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
