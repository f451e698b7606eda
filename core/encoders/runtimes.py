"""Which runtime embeds the images of a CPU build or evaluation, chosen by measurement.

`image_runtime="auto"` (the default): on the first batch of the user's own images, with the real
checkpoint, every candidate that exists on this CPU embeds the same sample after a one-image warm-up:
torch at the bulk precision (bf16 where native, else fp32), the int8 variants worth trying on this
CPU (`onnx_tower.quantisations_for`), and the fp32 export on ONNX Runtime where it is the fp32
reference (torch runs bf16) or no int8 variant agrees. The fastest candidate whose
embeddings agree with fp32 (`agreement`: cosine >= `MIN_COSINE` for every image, and every image's
nearest neighbour within the sample unchanged where fp32 tells the neighbours apart) embeds the
rest; the choice, its reason and every candidate's figures go into the build report and the manifest
(`RuntimeChoice.record`).

Only bulk work takes this path, and only with `precision=auto` (an explicit precision is honoured
as given): query embeddings stay fp32 torch, the fidelity rule of the interactive paths. Exporting a
tower costs about as much as embedding a few hundred images on 2 cores, so a build of fewer than
`EXPORT_MIN_IMAGES` images uses an exported tower only if one is already cached, and one of fewer
than `TRIAL_MIN_IMAGES` runs no trial at all (it would cost more than it saves): it uses the choice
the last trial here made for the checkpoint (`runtime_memory`), checked on its first `CHECK_IMAGES`
images, or else torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.encoders import onnx_tower, runtime_memory
from core.encoders.base import Encoder, Pixels
from core.encoders.cpu import CpuFeatures
from core.encoders.cpu import detect as detect_cpu

#: Lowest cosine to fp32, per image, at which a faster runtime is used.
MIN_COSINE = 0.999
#: Images of the first batch each candidate embeds for its time and agreement.
SAMPLE_IMAGES = 8
#: Images of a small build's first batch that check a remembered runtime (`runtime_memory`).
CHECK_IMAGES = 4
#: Builds with fewer images do not export a tower (they use one cached): on the EPYC-AVX2, exporting
#: and quantising took ~28 s and u8 saved ~0.12 s an image (a 256-image first build lost: 106 vs 97 s).
EXPORT_MIN_IMAGES = 512
#: Builds with fewer images run no trial: timing the candidates costs about as much as embedding 25
#: images (SigLIP B/16 on 2 cores), which a 1.8x faster runtime wins back only over ~60 images.
TRIAL_MIN_IMAGES = 100


@dataclass(frozen=True)
class Candidate:
    """A way to embed preprocessed images: `embed(pixels) -> (n, D)` float32, L2-normalised."""

    name: str
    embed: Callable[[Pixels], np.ndarray]


@dataclass(frozen=True)
class Trial:
    """One candidate measured on the sample against the fp32 reference."""

    runtime: str
    seconds_per_image: float
    min_cosine: float
    same_neighbours: bool

    @property
    def agrees(self) -> bool:
        return self.min_cosine >= MIN_COSINE and self.same_neighbours


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime that embeds the images, why, and what was measured (empty when nothing was)."""

    runtime: str
    reason: str
    trials: tuple[Trial, ...] = ()
    cpu: str = field(default_factory=lambda: detect_cpu().describe())

    def note(self) -> str:
        """One line for the build report and the evaluation's notes."""
        return f"Images embedded with {self.runtime}: {self.reason} (CPU {self.cpu})."

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict for the manifest and the evaluation report."""
        return {
            "runtime": self.runtime,
            "reason": self.reason,
            "cpu": self.cpu,
            "trials": [
                {**asdict(trial), "seconds_per_image": round(trial.seconds_per_image, 5),
                 "min_cosine": round(trial.min_cosine, 6)}
                for trial in self.trials
            ],
        }  # fmt: skip


def agreement(embeddings: np.ndarray, reference: np.ndarray) -> tuple[float, bool]:
    """(lowest cosine per image, every image's nearest other image unchanged) of two (n, D) arrays of
    L2-normalised rows of the same images. A neighbour counts as moved only where fp32 itself tells
    the two apart by more than `1 - MIN_COSINE` (near-duplicates may swap); with one image, the
    neighbours agree trivially."""
    cosine = float((embeddings * reference).sum(axis=1).min())
    if len(embeddings) < 2:
        return cosine, True

    def similarities(vectors: np.ndarray) -> np.ndarray:
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        return similarity

    expected = similarities(reference)
    rows = np.arange(len(reference))
    got, want = similarities(embeddings).argmax(axis=1), expected.argmax(axis=1)
    margin = expected[rows, want] - expected[rows, got]
    return cosine, bool((margin <= 1 - MIN_COSINE).all())


def pick(trials: Sequence[Trial], fallback: str, baseline: str | None = None) -> tuple[str, str]:
    """(runtime, reason): the fastest trial that agrees with fp32, else `fallback` (the reference, or
    torch for `image_runtime="onnx-int8"`). Speeds are relative to `baseline` (default `fallback`)."""
    by_speed = sorted(trials, key=lambda trial: trial.seconds_per_image)
    base = next(t for t in trials if t.runtime == (baseline or fallback))
    best = next((t for t in by_speed if t.agrees), None)
    if best is None:
        best = next(t for t in trials if t.runtime == fallback)
        reason = f"no runtime agrees with fp32 at cosine >= {MIN_COSINE}"
    elif best is base:
        reason = "the fastest that agrees with fp32"
    else:
        reason = f"the fastest that agrees with fp32: {_speedup(best, base)}, cosine {best.min_cosine:.4f}"
    refused = [
        f"{t.runtime} {_speedup(t, base)} but "
        + (f"cosine {t.min_cosine:.4f} < {MIN_COSINE}" if t.min_cosine < MIN_COSINE else "neighbours moved")
        for t in by_speed
        if t.seconds_per_image < best.seconds_per_image and not t.agrees
    ]
    return best.runtime, reason + ("; refused: " + "; ".join(refused) if refused else "")


def _speedup(trial: Trial, base: Trial) -> str:
    return f"{base.seconds_per_image / trial.seconds_per_image:.2f}x {base.runtime}"


def measure(
    candidates: Sequence[Candidate],
    reference: str,
    pixels: Pixels,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Trial]:
    """Time each candidate on `pixels` (after a one-image warm-up) and compare it with `reference`'s
    embeddings of the same pixels (`reference` must be one of `candidates`)."""
    runs = _timed(candidates, pixels, clock)
    return _trials(runs, runs[reference][1])


def _timed(
    candidates: Sequence[Candidate], pixels: Pixels, clock: Callable[[], float] = time.perf_counter
) -> dict[str, tuple[float, np.ndarray]]:
    """{name: (seconds per image, embeddings of `pixels`)}, each timed after a one-image warm-up."""
    first = {key: value[:1] for key, value in pixels.items()}
    count = len(next(iter(pixels.values())))
    runs = {}
    for candidate in candidates:
        candidate.embed(first)
        started = clock()
        vectors = candidate.embed(pixels)
        runs[candidate.name] = ((clock() - started) / count, vectors)
    return runs


def _trials(runs: dict[str, tuple[float, np.ndarray]], expected: np.ndarray) -> list[Trial]:
    return [Trial(name, seconds, *agreement(vectors, expected)) for name, (seconds, vectors) in runs.items()]


def torch_name(encoder: Encoder) -> str:
    """The name of `encoder`'s own runtime: "torch-fp32", "torch-bf16" or "torch-fp16"."""
    dtype = str(encoder.dtype).rsplit(".", 1)[-1]
    return "torch-" + {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(dtype, dtype)


def candidates_for(
    encoder: Encoder, *, images: int | None = None, cpu: CpuFeatures | None = None
) -> tuple[list[Candidate], str, list[str]]:
    """(candidates, the fp32 reference's name, notes on what was left out) for `encoder` on `cpu`.

    `images`: how many images the build or run will embed (None: unknown, as many as it takes).
    Exports and quantises the tower on first use (cached on disk for later runs).
    """
    own = Candidate(torch_name(encoder), encoder.fast_path.embed)  # type: ignore[union-attr]
    reason = onnx_tower.unsupported(encoder)
    if reason is not None:
        return [own], own.name, [f"ONNX Runtime not tried: {reason}"]
    if images is not None and images < TRIAL_MIN_IMAGES:
        note = f"{images} images: too few for a trial of other runtimes to pay for itself"
        return [own], own.name, [f"{note} (it runs for {TRIAL_MIN_IMAGES} or more)"]
    variants = onnx_tower.quantisations_for(cpu)
    if images is not None and images < EXPORT_MIN_IMAGES:  # only what is already on disk
        ready = tuple(v for v in variants if onnx_tower.is_exported(encoder, v))
        if not ready:
            note = "ONNX Runtime not tried: no exported tower is cached, and exporting one costs more than"
            note += f" it saves over {images} images (builds of {EXPORT_MIN_IMAGES} or more export it)"
            return [own], own.name, [note]
        variants = ready
    candidates = [own] if own.name == "torch-fp32" else [own, _onnx_fp32(encoder)]
    candidates += [Candidate(v.name, onnx_tower.int8_tower(encoder, v).embed) for v in variants]
    return candidates, "torch-fp32" if own.name == "torch-fp32" else "onnx-fp32", []


def _onnx_fp32(encoder: Encoder) -> Candidate:
    tower = onnx_tower.fp32_tower(encoder)
    return Candidate(tower.name, tower.embed)


def choose(
    encoder: Encoder,
    pixels: Pixels,
    *,
    images: int | None = None,
    int8_only: bool = False,
    cpu: CpuFeatures | None = None,
) -> tuple[RuntimeChoice, Candidate, np.ndarray]:
    """Measure the candidates for `encoder` on (the first `SAMPLE_IMAGES` of) `pixels`.

    ONNX Runtime fp32 is timed when it is the fp32 reference (torch runs in bf16) or when no int8
    variant agrees: where one does, it was faster than fp32 on every CPU measured.

    Args:
        images: How many images the build will embed (decides whether a tower may be exported).
        int8_only: `image_runtime="onnx-int8"`: the fastest int8 variant that agrees, whatever its
            speed, else torch (exported whatever the build's size).
        cpu: The CPU to choose for (default: this one).

    Returns:
        (choice, the candidate to embed with, its embeddings of the sample: the first
        `SAMPLE_IMAGES` of `pixels`, so that they are not embedded twice).
    """
    cpu = cpu or detect_cpu()
    if not int8_only and images is not None and images < TRIAL_MIN_IMAGES:
        recalled = _recalled(encoder, pixels, cpu)
        if recalled is not None:
            return recalled
    candidates, reference, notes = candidates_for(encoder, images=None if int8_only else images, cpu=cpu)
    sample = {key: value[:SAMPLE_IMAGES] for key, value in pixels.items()}
    if len(candidates) == 1:
        choice = RuntimeChoice(candidates[0].name, "; ".join(notes), cpu=cpu.describe())
        return choice, candidates[0], candidates[0].embed(sample)
    runs = _timed(candidates, sample)
    trials = _trials(runs, runs[reference][1])
    own = candidates[0].name
    if int8_only:  # the int8 variants, else the encoder's own runtime
        name, reason = pick([t for t in trials if t.runtime != "onnx-fp32"], own)
    else:
        if reference == own and not any(t.agrees for t in trials if t.runtime != own):
            fallback = _onnx_fp32(encoder)
            runs.update(_timed([fallback], sample))
            trials = _trials(runs, runs[reference][1])
            candidates.append(fallback)
        name, reason = pick(trials, reference, baseline=own)
    chosen = next(candidate for candidate in candidates if candidate.name == name)
    choice = RuntimeChoice(name, "; ".join([reason, *notes]), tuple(trials), cpu.describe())
    auto = RuntimeChoice(*pick(trials, reference, baseline=own), tuple(trials)) if int8_only else choice
    runtime_memory.remember(encoder, own, cpu, auto.record())
    return choice, chosen, runs[name][1]


def _recalled(
    encoder: Encoder, pixels: Pixels, cpu: CpuFeatures
) -> tuple[RuntimeChoice, Candidate, np.ndarray] | None:
    """For a build too small for a trial: the runtime the last trial here chose for this checkpoint
    (`runtime_memory`), if its tower is cached and it agrees with fp32 on the build's first
    `CHECK_IMAGES` images; torch if it does not; None when nothing faster is remembered."""
    own = Candidate(torch_name(encoder), encoder.fast_path.embed)  # type: ignore[union-attr]
    past = runtime_memory.recall(encoder, own.name, cpu) if onnx_tower.supports(encoder) else None
    tower = onnx_tower.cached_tower(encoder, past.runtime) if past and past.runtime != own.name else None
    fp32 = own.name == "torch-fp32" or tower is None  # no fp32 tower loaded for nothing
    reference = own if fp32 else onnx_tower.cached_tower(encoder, "onnx-fp32")
    if past is None or tower is None or reference is None:
        return None
    sample = {key: value[:CHECK_IMAGES] for key, value in pixels.items()}
    got, want = tower.embed(sample), reference.embed(sample)
    cosine, same = agreement(got, want)
    checked = f"checked on this build's first {len(got)} images: cosine {cosine:.4f} to {reference.name}"
    if cosine >= MIN_COSINE and same:
        reason = f"remembered from the last trial of this checkpoint here ({past.reason}); {checked}"
        try:
            trials = tuple(Trial(**record) for record in past.trials)
        except TypeError:  # written by another version
            trials = ()
        choice = RuntimeChoice(tower.name, reason, trials, cpu.describe())
        return choice, Candidate(tower.name, tower.embed), got
    reason = f"{tower.name}, remembered as the fastest here, disagrees with fp32 on this build's images"
    reason += f" ({checked}{', neighbours moved' if cosine >= MIN_COSINE else ''})"
    mine = want if reference is own else own.embed(sample)
    return RuntimeChoice(own.name, reason, cpu=cpu.describe()), own, mine
