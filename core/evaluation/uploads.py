"""An evaluation of an uploaded zip, start to end, as the app's Evaluate tab runs it.

The zip is unpacked into a private temporary folder with every check of `core.archives` (the archive is
untrusted: `..` and absolute entries, links, encryption, bombs and oversized totals are refused from
its directory before a byte is written) plus what an evaluation run may take (entries, images, images x
models: `core.evaluation.budget`), read with the settings' limits (images, classes), evaluated within
the time limit, and deleted; the JSON, the CSV and the plots go to a fresh output folder, and output
folders older than an hour are removed at each run so a public server does not fill its disk.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core import archives
from core.config import Settings, get_settings
from core.errors import InvalidInputError
from core.evaluation.budget import TimeLimit, check_budget, count_images, record_speeds
from core.evaluation.data import Limits, read_caption_folder, read_class_folder, too_many_images
from core.evaluation.plots import write_plots
from core.evaluation.report import EvalReport
from core.evaluation.runner import EvalOptions, Progress, evaluate_retrieval, evaluate_zeroshot, model_keys
from core.limits import check_choice

TASKS = ("zeroshot", "retrieval")
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "siglip-projects-eval"
#: Output folders are kept this long (for downloads), then removed by a later run.
KEEP_OUTPUTS_S = 3600


#: The unpacked total may be this many times the largest upload.
UNPACKED_FACTOR = 5
#: Entries allowed besides the images (folders, a captions file, notes).
EXTRA_ENTRIES = 1000


@dataclass(frozen=True)
class EvalZipLimits:
    """What one evaluation zip may hold. Build it from the settings with `EvalZipLimits.from_settings`."""

    max_unpacked_bytes: int
    max_entries: int
    max_images: int
    #: Models the run will use, and the most images x models it may take (None: no budget).
    models: int = 1
    max_image_models: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, models: int = 1) -> EvalZipLimits:
        return cls(
            max_unpacked_bytes=UNPACKED_FACTOR * settings.eval_max_upload_mb * 1_000_000,
            max_entries=settings.eval_max_images + settings.eval_max_classes + EXTRA_ENTRIES,
            max_images=settings.eval_max_images,
            models=models,
            max_image_models=settings.eval_max_image_models,
        )

    def archive_limits(self) -> archives.ZipLimits:
        """The limits of `core.archives` (one entry may take the whole unpacked budget)."""
        return archives.ZipLimits(self.max_entries, self.max_unpacked_bytes, self.max_unpacked_bytes)


def unpack_upload(path: str | Path, destination: Path, limits: EvalZipLimits) -> Path:
    """Unpack the zip at `path` into the new folder `destination`; return the data's root folder.

    The root is `destination`, or its one top folder when the zip holds a single folder of class
    folders or captions (what zipping a folder gives).

    Raises:
        InvalidInputError: not a zip, damaged, more images than a run takes (alone or x its models),
            or refused by one of the checks of `core.archives`.
    """

    def check(members: list[archives.Member]) -> None:
        images = count_images(member.path for member in members)
        if images > limits.max_images:
            raise InvalidInputError(too_many_images(images, limits.max_images))
        if limits.max_image_models is not None:
            check_budget(images, limits.models, limits.max_image_models)

    archives.extract_zip(path, destination, limits.archive_limits(), check=check)
    return data_root(destination)


def data_root(folder: Path) -> Path:
    """`folder`, or its one visible sub-folder when that is all it holds and it holds folders or a
    captions file itself (a zipped folder), so `data.zip/photos/cat/1.jpg` reads like `cat/1.jpg`."""
    visible = [path for path in folder.iterdir() if not path.name.startswith(".") and path.name != "__MACOSX"]
    if len(visible) == 1 and visible[0].is_dir():
        inner = list(visible[0].iterdir())
        if any(path.is_dir() for path in inner) or any(path.name.startswith("metadata.") for path in inner):
            return visible[0]
    return folder


@dataclass(frozen=True)
class UploadResult:
    """A finished run: the report and the files written for it (JSON, CSV, then the plots)."""

    report: EvalReport
    json_path: Path
    csv_path: Path
    plots: dict[str, Path]

    @property
    def files(self) -> list[Path]:
        return [self.json_path, self.csv_path, *self.plots.values()]


def evaluate_upload(
    path: str | Path,
    task: str,
    options: EvalOptions,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> UploadResult:
    """Evaluate the models of `options` on an uploaded zip.

    Args:
        path: The zip: class folders (`task="zeroshot"`), or images with a `metadata.jsonl` /
            `metadata.csv` of captions (`task="retrieval"`), at its root or in one top folder.
        task: "zeroshot" or "retrieval".
        options: Models, templates, language, batch size.
        settings: Limits and model settings (default: the process settings).
        progress: Called as each model advances (see `core.evaluation.runner.Progress`).

    Raises:
        InvalidInputError: a bad task, a refused or unusable zip, a limit or the budget of images x
            models exceeded (checked before unpacking), the time limit passed (the run is stopped and
            dropped), bad data.
        UnknownModelError, ModelLoadError: as `evaluate_zeroshot`.
    """
    settings = settings or get_settings()
    check_choice("The task", task, TASKS)
    limits, models = Limits.from_settings(settings), len(model_keys(options.models))
    stop = TimeLimit(settings.eval_time_limit_minutes, progress)
    with tempfile.TemporaryDirectory(prefix="siglip-eval-upload-") as unpacked, stop.stopping():
        root = unpack_upload(path, Path(unpacked) / "data", EvalZipLimits.from_settings(settings, models))
        if task == "zeroshot":
            data = read_class_folder(root, limits, label="The zip")
            report = evaluate_zeroshot(data, options, settings=settings, progress=stop)
        else:
            captions = read_caption_folder(root, limits=limits, label="The zip")
            report = evaluate_retrieval(captions, options, settings=settings, progress=stop)
    record_speeds(report)
    output = new_output_folder()
    plots = write_plots(report, output)
    return UploadResult(
        report, report.write_json(output / "results.json"), report.write_csv(output / "results.csv"), plots
    )


def new_output_folder(root: Path = OUTPUT_ROOT, keep_s: float = KEEP_OUTPUTS_S) -> Path:
    """A fresh folder under `root`, after removing the folders there older than `keep_s` seconds."""
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - keep_s
    for old in root.iterdir():
        try:
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed meanwhile by another run
            continue
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))
