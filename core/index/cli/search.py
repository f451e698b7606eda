"""`python app.py index search`: one text or image, or several combined, with filters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import InvalidInputError
from core.index.cli.args import command
from core.index.cli.output import print_hits
from core.index.searching.filters import parse_filters
from core.index.searching.load import load_index
from core.index.searching.query import QueryPart, combine_parts, parse_weights
from core.index.searching.search import search
from core.limits import check_path, quote_path

SEARCH_EXAMPLES = """examples:
  python app.py index search photos --text "a dog on a beach" -k 5    # text to image
  python app.py index search photos --image query.jpg                 # image (or sketch) to image
  python app.py index search captions --image query.jpg               # image to text
  python app.py index search captions --text "a red car" --json       # text to text, as JSON

  # combined: a sketch plus a text, minus what to leave out; one weight per part, in the order
  # --text, --image, then each --negative (parts without a weight get 1):
  python app.py index search wikiart --image sketch.png --text "as a watercolour" --weights 0.5,0.5
  python app.py index search photos --text beach --negative people --negative cars
  #   query = normalise(sum of weight * embedding over --text/--image - sum over --negative)

  # filters (exact match on metadata columns; repeat for more) and a minimum score:
  python app.py index search wikiart --text "a storm" --where style=Romanticism --min-score 0.05
"""


def add_search(commands: Any) -> None:
    search = command(commands, "search", "Search an index with texts and images.", SEARCH_EXAMPLES)
    search.add_argument("name", help="Index name.")
    search.add_argument("--text", help="Text query.")
    search.add_argument("--image", type=Path, help="Image file query (a drawing works too).")
    search.add_argument(
        "--negative", action="append", default=[], metavar="TEXT", help="Text to leave out (repeatable)."
    )
    search.add_argument(
        "--weights", help="Comma-separated weights of --text, --image and each --negative, in that order."
    )
    search.add_argument(
        "--where", action="append", default=[], metavar="COLUMN=VALUE",
        help="Only items whose metadata COLUMN equals VALUE (repeatable: values of one column any, "
        "columns all).",
    )  # fmt: skip
    search.add_argument("--min-score", type=float, help="Leave out results scoring below it (-1 to 1).")
    search.add_argument("-k", type=int, default=10, help="Number of results (default: 10).")
    search.add_argument("--language", help="Language code of the text query, for NLLB-CLIP.")
    search.add_argument("--json", action="store_true", help="Print the results as JSON.")
    search.set_defaults(run=run_search)


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    if args.text is None and args.image is None:
        raise InvalidInputError("Give --text, --image or both: what to search for.")
    if args.image is not None and not check_path(args.image, "The query image").is_file():
        raise InvalidInputError(f"The query image {quote_path(args.image)} does not exist.")
    index = load_index(args.name, settings=settings)
    positives: list[Any] = [query for query in (args.text, args.image) if query is not None]
    weights = parse_weights(args.weights, len(positives) + len(args.negative))
    options = {"where": parse_filters(args.where), "min_score": args.min_score}
    if len(positives) == 1 and not args.negative and not args.weights:
        hits = search(index, positives[0], k=args.k, language=args.language, settings=settings, **options)
    else:
        parts = [QueryPart(query, weight) for query, weight in zip(positives, weights, strict=False)]
        negatives = zip(args.negative, weights[len(positives) :], strict=True)
        parts += [QueryPart(text, weight, negative=True) for text, weight in negatives]
        vector = combine_parts(index, parts, language=args.language, settings=settings)
        hits = search(index, vector, k=args.k, **options)
    print_hits(
        args.name, hits, args.k, args.json, filtered=bool(options["where"] or args.min_score is not None)
    )
    return 0
