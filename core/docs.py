"""README sections generated from the registry and the settings, so the docs cannot drift.

python -m core.docs            # rewrite the generated sections of README.md
python -m core.docs --check    # exit 1 if README.md is out of date (the tests run this too)
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from core.config import Settings
from core.registry import MODELS, env_var, slot_name


def models_table() -> str:
    rows = [
        "| key | model | default checkpoint | override | scores | languages | good for | published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in MODELS.values():
        tag = f", pretrained `{spec.pretrained_tag}`" if spec.pretrained_tag else ""
        defaults = "<br>".join(
            f"`{default}`" + (f" ({tower})" if tower else tag) for tower, default in spec.towers
        )
        overrides = "<br>".join(f"`{env_var(slot_name(spec.key, tower))}`" for tower, _ in spec.towers)
        scores = "sigmoid per label" if spec.scoring == "sigmoid" else "softmax over labels"
        key = f"`{spec.key}`" + (" (preset)" if spec.preset else "")
        cells = [key, spec.name, defaults, overrides, scores, spec.languages, spec.good_for, spec.published]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def settings_table() -> str:
    """One row per setting, in declaration order: its variable, default and help (the field's metadata)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = "" if f.default is MISSING else str(f.default)
        rows.append(f"| `{f.metadata['env']}` | {f'`{default}`' if default else ''} | {f.metadata['help']} |")
    return "\n".join(rows)


def limits_table() -> str:
    """What one request may send, from the constants the checks use."""
    from core import images, limits
    from core.index.sources import base
    from core.index.sources import uploads as sources

    decode_mb, query_mpx = images.MAX_QUERY_DECODE_BYTES / 1e6, images.QUERY_PIXELS / 2**20
    rows = [
        (
            "query text",
            f"{limits.MAX_TEXT_CHARS:,} characters",
            "the models read 64–128 tokens, within 1,629 characters even for a text of the longest "
            "single-token words (`benchmarks.text_limits`); longer texts given to the core are cut there",
        ),
        (
            "labels",
            f"{limits.MAX_LABELS} labels of up to {limits.MAX_LABEL_CHARS} characters; "
            f"{limits.MAX_LABELS_FIELD_CHARS:,} for the whole field",
            "labels are names; the field is checked before it is split",
        ),
        (
            "template",
            f"{limits.MAX_TEMPLATE_CHARS} characters with exactly one bare `{{}}` (`{{{{` `}}}}` for braces)",
            "no format specs, names, indexes or conversions: `{:>20000000}` padded each label to 20 MB",
        ),
        (
            "image file",
            f"{images.MAX_IMAGE_BYTES / 2**20:.0f} MB, {images.MAX_IMAGE_PIXELS / 1e6:.0f} Mpx",
            "checked from the header before decoding: a bomb costs nothing",
        ),
        (
            "decoding an image (a query, a collection's, an evaluation's: one decoder)",
            f"{decode_mb:.0f} MB: 25 Mpx RGB, 12 Mpx with transparency, 16 Mpx 16-bit greyscale, 64 Mpx "
            f"greyscale, any JPEG; formats {', '.join(images.IMAGE_FORMATS)} only",
            f"JPEGs decode at 1/2–1/8 scale; larger images are then reduced to {query_mpx:.0f} Mpx "
            "(scores move by under 1e-3); a 62 Mpx 16-bit PNG of a few hundred KB once took 1.88 GB",
        ),
        (
            "metadata of an upload",
            f"a `metadata.csv`/`.jsonl` of {sources.MAX_SIDECAR_BYTES / 1e6:.0f} MB; "
            f"{base.MAX_FIELDS} fields of {base.MAX_VALUE_CHARS:,} characters per image",
            "longer values end in `…`: a 45 MB title came back in every hit's caption",
        ),
        (
            "messages",
            f"quote {limits.QUOTE_CHARS} characters of a value ({limits.QUOTE_PATH_CHARS} of a path)",
            "then `…` and the full length, on one line",
        ),
    ]
    lines = ["| input | limit | why |", "|---|---|---|"]
    lines += [f"| {what} | {limit} | {why} |" for what, limit, why in rows]
    return "\n".join(lines)


SECTIONS = {"models": models_table, "settings": settings_table, "limits": limits_table}


def render(readme: str) -> str:
    """Return `readme` with every `<!-- NAME:start -->...<!-- NAME:end -->` section regenerated."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README has no '<!-- {name}:start -->' ... '<!-- {name}:end -->' section.")
        readme = pattern.sub(lambda match, make=make: match.group(1) + make() + "\n" + match.group(2), readme)
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="Only check; exit 1 when out of date.")
    parser.add_argument("readme", nargs="?", type=Path, default=Path(__file__).parent.parent / "README.md")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    updated = render(current)
    if args.check:
        if updated != current:
            print(f"{args.readme} is out of date: run `python -m core.docs`.", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
