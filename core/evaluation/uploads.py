"""An evaluation of an uploaded zip, start to end, as the app's Evaluate tab runs it.

The zip is unpacked into a private temporary folder with every check of `core.evaluation.archive`,
read with the settings' limits (images, classes), evaluated, and deleted; the JSON, the CSV and the
plots go to a fresh output folder, and output folders older than an hour are removed at each run so a
public server does not fill its disk.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings, get_settings
from core.errors import check_choice
from core.evaluation.archive import ZipLimits, extract_zip
from core.evaluation.data import Limits, read_caption_folder, read_class_folder
from core.evaluation.plots import write_plots
from core.evaluation.report import EvalReport
from core.evaluation.runner import EvalOptions, Progress, evaluate_retrieval, evaluate_zeroshot

TASKS = ("zeroshot", "retrieval")
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "siglip-projects-eval"
#: Output folders are kept this long (for downloads), then removed by a later run.
KEEP_OUTPUTS_S = 3600


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
        InvalidInputError: a bad task, a refused or unusable zip, a limit exceeded, bad data.
        UnknownModelError, ModelLoadError: as `evaluate_zeroshot`.
    """
    settings = settings or get_settings()
    check_choice("The task", task, TASKS)
    limits = Limits.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="siglip-eval-upload-") as unpacked:
        root = extract_zip(path, Path(unpacked) / "data", ZipLimits.from_settings(settings))
        if task == "zeroshot":
            data = read_class_folder(root, limits, label="The zip")
            report = evaluate_zeroshot(data, options, settings=settings, progress=progress)
        else:
            captions = read_caption_folder(root, limits=limits, label="The zip")
            report = evaluate_retrieval(captions, options, settings=settings, progress=progress)
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
