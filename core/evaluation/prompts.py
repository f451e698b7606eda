"""Zero-shot prompts and class names: the pipeline's one template, or CLIP_benchmark's prompt ensembles.

The prompt ensembles and the ImageNet-1k class names are the files of LAION's `clip-benchmark`
package (MIT licence), kept byte for byte in `core/evaluation/clip_benchmark/` with the hashes of the
wheel they came from. Installing the package instead would pull in pycocoevalcap (a 104 MB wheel of Java
tools for caption metrics), pycocotools and webdataset, none of which is used here. To move to another
release, download its wheel and run

    pip download --no-deps clip-benchmark==1.6.2 -d /tmp/cb
    python -m core.evaluation.prompts --update /tmp/cb/clip_benchmark-1.6.2-py2.py3-none-any.whl

which checks every file against the wheel's own RECORD before replacing ours.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from core.errors import InvalidInputError
from core.limits import quote
from core.zeroshot import check_template

DATA = Path(__file__).resolve().parent / "clip_benchmark"
PROVENANCE = DATA / "PROVENANCE.json"
TEMPLATES_FILE = "en_zeroshot_classification_templates.json"
CLASSNAMES_FILE = "en_classnames.json"
#: Files taken from the wheel: (path inside the wheel, name here).
WHEEL_FILES = (
    (f"clip_benchmark/datasets/{TEMPLATES_FILE}", TEMPLATES_FILE),
    (f"clip_benchmark/datasets/{CLASSNAMES_FILE}", CLASSNAMES_FILE),
)
#: `--templates ensemble`: the 80 ImageNet prompts of CLIP (Radford et al. 2021), as CLIP_benchmark uses them.
ENSEMBLE = "ensemble"
ENSEMBLE_DATASET = "imagenet1k"
_WORDNET_ID = re.compile(r"n\d{8}")


@functools.cache
def _json(name: str) -> dict[str, list[str]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def ensemble_names() -> list[str]:
    """What `--templates` accepts: `ensemble` (ImageNet's) and each data set with CLIP_benchmark prompts."""
    return [ENSEMBLE, *(name for name in _json(TEMPLATES_FILE) if name != "dummy")]


def resolve_templates(template: str | None = None, templates: str | None = None) -> tuple[str, ...]:
    """The templates to embed each class name with, as `{}` format strings.

    Args:
        template: One sentence with `{}` (default: the pipeline's "This is a photo of {}.").
        templates: `ensemble` for the 80 ImageNet prompts, or a CLIP_benchmark dataset name
            (`cifar10`, `food101`...); overrides `template`.

    Raises:
        InvalidInputError: a template without `{}`, or an unknown ensemble name.
    """
    if not templates:
        return (check_template(template),)
    name = ENSEMBLE_DATASET if templates.strip().lower() == ENSEMBLE else templates.strip()
    found = _json(TEMPLATES_FILE).get(name)
    if not found or name == "dummy":
        raise InvalidInputError(
            f"{quote(templates)} is not a prompt ensemble. Use one of: {', '.join(ensemble_names())}."
        )
    return tuple(text.replace("{c}", "{}") for text in found)


def describe_templates(templates: Sequence[str]) -> str:
    """One line for reports: the template itself, or how many an ensemble has."""
    if len(templates) == 1:
        return f"'{templates[0]}'"
    return f"an ensemble of {len(templates)} prompts (CLIP_benchmark), averaged per class"


def benchmark_class_names(name: str, count: int) -> list[str]:
    """CLIP_benchmark's class names for data set `name` (`imagenet1k`, `pets`, `flowers`...), which
    replace a data set's own names class by class, in label order (ImageNet-1k's follow the sorted
    WordNet ids, n01440764 first).

    Raises:
        InvalidInputError: an unknown name, or another number of classes than the data has.
    """
    names = _json(CLASSNAMES_FILE).get(name)
    if names is None:
        raise InvalidInputError(
            f"CLIP_benchmark has no class names for {quote(name)}. "
            f"Known: {', '.join(_json(CLASSNAMES_FILE))}."
        )
    if len(names) != count:
        raise InvalidInputError(
            f"CLIP_benchmark's '{name}' has {len(names):,} class names; the data has {count:,} classes."
        )
    return list(names)


def folder_class_names(folders: Sequence[str]) -> tuple[list[str], str | None]:
    """Class names for ImageFolder sub-folders (given sorted), and a note when a convention applied.

    Folder names become class names with `_` as spaces (`golden_retriever` -> `golden retriever`).
    The 1,000 WordNet-id folders of ImageNet-1k (`n01440764`...) get CLIP's curated class names.
    """
    if len(folders) == 1000 and all(_WORDNET_ID.fullmatch(name) for name in folders):
        note = "The 1,000 folders are ImageNet-1k WordNet ids: the class names are CLIP_benchmark's."
        return benchmark_class_names(ENSEMBLE_DATASET, 1000), note
    return [" ".join(name.replace("_", " ").split()) for name in folders], None


# --------------------------------------------------------------------------------------------------
# Updating the files from a clip-benchmark wheel


def record_hash(data: bytes) -> str:
    """A file's hash as wheel RECORD files write it: `sha256=` + urlsafe base64 without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def update_from_wheel(wheel: Path) -> dict[str, object]:
    """Replace the files with those of a clip-benchmark wheel, each checked against its RECORD.

    Raises:
        InvalidInputError: not a clip-benchmark wheel, or a file that disagrees with the RECORD.
    """
    with zipfile.ZipFile(wheel) as archive:
        records = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
        if not records or not records[0].startswith("clip_benchmark-"):
            raise InvalidInputError(f"{wheel} is not a clip-benchmark wheel.")
        record = {
            row.split(",")[0]: row.split(",")[1]
            for row in archive.read(records[0]).decode().splitlines()
            if row.count(",") == 2
        }
        files = {}
        for inside, name in WHEEL_FILES:
            data = archive.read(inside)
            if record.get(inside) != record_hash(data):
                raise InvalidInputError(f"{inside} in {wheel.name} does not match the wheel's RECORD.")
            (DATA / name).write_bytes(data)
            files[name] = record_hash(data)
        (DATA / "LICENSE").write_bytes(archive.read(records[0].replace("RECORD", "LICENSE")))
    provenance = {
        "package": "clip-benchmark",
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),  # as PyPI lists it
        "files": files,
    }
    PROVENANCE.write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    _json.cache_clear()
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--update", type=Path, required=True, metavar="WHEEL", help="A clip-benchmark wheel.")
    args = parser.parse_args(argv)
    print(json.dumps(update_from_wheel(args.update), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
