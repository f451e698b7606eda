"""What one evaluation in the app may cost: a budget of images x models, checked before anything is
unpacked; an estimate of its time, shown before it starts; and a time limit that stops it.

The estimate adds, per model, a load (`LOAD_SECONDS`) and its images at the model's speed: the speed
this server measured on its last run of that model (`record_speeds`), else `CPU_IMAGES_PER_SECOND`,
the speed on a free CPU Space (2 vCPU, fp32). The time limit is checked each time a run reports
progress (after each batch of images or texts, before each model's load): a model's load or one batch
is not interrupted. A stopped run raises `InvalidInputError`; what it had computed is dropped.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core import archives
from core.errors import InvalidInputError
from core.evaluation.report import EvalReport
from core.evaluation.runner import Progress
from core.images import IMAGE_EXTENSIONS
from core.registry import get_spec

#: Images per second of one model's run on a free CPU Space (2 vCPU, AVX2, fp32), decoding included.
#: Measured for ViT-B/16 at 224 px (SigLIP B/16, real size, `index build`: 2.4-2.7 img/s on a 2-core
#: AMD EPYC); the others scaled by their image tower's compute (256 px or 256 NaFlex patches: 1.3x;
#: ViT-B/32: a quarter, decoding unchanged).
CPU_IMAGES_PER_SECOND: dict[str, float] = {
    "siglip": 2.5,
    "siglip2": 2.5,
    "siglip2-naflex": 1.9,
    "siglip-multilingual": 1.9,
    "clip": 2.5,
    "nllb-clip": 7.0,
    "mclip": 7.0,
}
#: A model's load (imports and weights) on that machine; less once it is loaded.
LOAD_SECONDS = 10.0
_speeds: dict[str, float] = {}
_speeds_lock = threading.Lock()


def check_budget(images: int, models: int, budget: int) -> None:
    """Raises: InvalidInputError: `images` x `models` is over `budget` (the settings'
    `eval_max_image_models`), with what to do instead."""
    if images * models > budget:
        most = max(budget // max(models, 1), 0)
        raise InvalidInputError(
            f"{images:,} images x {models} model(s) is {images * models:,} image-models, over the budget of "
            f"{budget:,} one evaluation may run (SIGLIP_PROJECTS_EVAL_MAX_IMAGE_MODELS). Evaluate at most "
            f"{most:,} images with {models} model(s), or fewer models."
        )


def count_images(names: Iterable[str]) -> int:
    """How many of the file `names` (paths inside a zip) are images, by their suffix."""
    return sum(PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS for name in names)


def zip_image_count(path: str | Path) -> int:
    """The images of the zip at `path`, from its directory alone (nothing is unpacked).

    Raises:
        InvalidInputError: not a readable zip.
    """
    with archives.open_zip(path) as archive:
        return count_images(archive.namelist())


def images_per_second(key: str) -> float:
    """The speed the estimate uses for model `key`: measured here last, else the CPU Space figure."""
    with _speeds_lock:
        return _speeds.get(key) or CPU_IMAGES_PER_SECOND.get(key, 2.5)


def estimate_seconds(images: int, keys: Sequence[str]) -> float:
    """Seconds an evaluation of `images` images with the models `keys` should take on this server."""
    return sum(LOAD_SECONDS + images / images_per_second(key) for key in keys)


def record_speeds(report: EvalReport) -> None:
    """Keep the image speeds `report` measured, for the next estimates of this process."""
    with _speeds_lock:
        for key, result in report.results.items():
            speed = result.details.get("images_per_second")
            if isinstance(speed, (int, float)) and speed > 0:
                _speeds[key] = float(speed)


class _OutOfTime(Exception):
    """Raised through the runner (which lets it pass, as not a user error of one model)."""


@dataclass
class TimeLimit:
    """A `Progress` that forwards to `progress` and stops the run once `minutes` have passed since it
    was made (0: never); use the run inside `stopping()`, which turns the stop into the user's message."""

    minutes: float
    progress: Progress | None = None
    started: float = field(default_factory=time.monotonic)

    def __call__(self, key: str, done: int, total: int, stage: str) -> None:
        if self.minutes > 0 and time.monotonic() - self.started > self.minutes * 60:
            raise _OutOfTime(key, done, total, stage)
        if self.progress is not None:
            self.progress(key, done, total, stage)

    @contextlib.contextmanager
    def stopping(self) -> Iterator[None]:
        """Raises: InvalidInputError: the run inside passed the time limit (where it was, what to do)."""
        try:
            yield
        except _OutOfTime as stop:
            key, done, total, stage = stop.args
            name = get_spec(key).name
            where = f"{name} at {done:,} of {total:,} images and texts" if stage != "loading" else name
            raise InvalidInputError(
                f"The evaluation was stopped at its time limit of {self.minutes:g} min "
                f"(SIGLIP_PROJECTS_EVAL_TIME_LIMIT_MINUTES) while running {where}; nothing of it was "
                "kept. Evaluate fewer images or models, or run the evaluation on your own machine (see the "
                "README)."
            ) from None
