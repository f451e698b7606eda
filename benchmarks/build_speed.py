"""Index build speed: the seed's one-image-at-a-time fp32 loop against the builder, in one run.

    python -m benchmarks.build_speed                   # CPU: 32 photos, 3 rounds (about 3 minutes)
    python -m benchmarks.build_speed --images 256 --rounds 2 --ray --only auto    # CPU: Ray vs local
    # On a CUDA machine (the issue's GPU figures): local engine and Ray engine with one GPU
    python -m benchmarks.build_speed --images 4096 --seed-images 256 --batch-size 256 --rounds 2 --ray

Every round times, on the same photo-like 1024x768 JPEGs and the real-size SigLIP B/16-224 (random
weights), in alternation so that a busy machine slows all of them alike:
  * seed: for each file, PIL full decode, the processor, `get_image_features` in fp32 (batch 1);
  * build fp32: `build_index` of a `FolderSource` in fp32 (batched, draft decode, reader thread);
  * build auto precision, torch: the default precision (bf16 where the hardware has it natively),
    `image_runtime="torch"` (what builds ran before the runtime was measured);
  * build torch + 1 worker: with one decode worker process (on CUDA: the default worker count);
  * build auto: the defaults, `image_runtime="auto"`: the runtimes this CPU has are timed on the first
    batch and the fastest that agrees with fp32 is kept (the towers are exported before the rounds);
  * build onnx-int8: an int8 ONNX Runtime tower whenever it agrees (CPU, fixed-size models);
  * with --ray, build auto on the Ray engine: a local Ray instance with every CPU and GPU here (its
    actors load the model in every build, as a real Ray build does; that start-up is in its time).
Each figure is images per second of the whole build (thumbnails, checksums, FAISS and manifest
included) and its ratio to the seed in the same round; the median ratio and its range over rounds
are printed, with the mean GPU utilisation during each variant (sampled by `nvidia-smi`) and the Ray
engine's ratio to the local one. The builds' embeddings are compared with the seed's (fp32, full
decode) by cosine.
A decode section times PIL full decode, draft decode and the processor alone (one core).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, machine, photo_like_jpegs, siglip_base  # sets HF_HUB_OFFLINE first


def seed_loop(encoder, paths: list[Path]) -> np.ndarray:
    """The seed's way: one image at a time, processor then get_image_features, fp32."""
    import torch
    from PIL import Image

    rows = []
    with torch.inference_mode():
        for path in paths:
            image = Image.open(path).convert("RGB")
            inputs = encoder.processor(images=[image], return_tensors="pt").to(encoder.device)
            features = encoder.model.get_image_features(**inputs).pooler_output
            rows.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
    return np.concatenate(rows)


class GpuUtilisation:
    """Mean GPU utilisation (%) while in the block, sampled every 100 ms by `nvidia-smi` (None without)."""

    def __enter__(self) -> GpuUtilisation:
        self.samples: list[float] = []
        self.process = None
        if shutil.which("nvidia-smi"):
            argv = [
                "nvidia-smi",
                "--query-gpu=utilization.gpu",
                "--format=csv,noheader,nounits",
                "-lms",
                "100",
            ]
            self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            with contextlib.suppress(ValueError):
                self.samples.append(float(line.split(",")[0]))

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.samples) if self.samples else None


#: What each image_runtime chose, as the builds' notes say it (printed after the rounds).
CHOSEN: dict[str, list[str]] = {}


def build_once(
    folder: Path,
    settings,
    workers: int | None,
    batch_size: int,
    runtime: str = "torch",
    engine: str = "local",
) -> np.ndarray:
    from core.index import (
        BuildOptions,
        FolderSource,
        build_index,
        clear_cache,
        load_index,
    )

    shutil.rmtree(settings.index_dir, ignore_errors=True)
    options = BuildOptions(
        rebuild=True, batch_size=batch_size, decode_workers=workers, image_runtime=runtime, engine=engine
    )
    report = build_index("bench", FolderSource(folder), options, settings=settings)
    chosen = [note for note in report.notes if note.startswith("Images embedded with")]
    if runtime != "torch" and chosen and chosen[0] not in CHOSEN.setdefault(runtime, []):
        CHOSEN[runtime].append(chosen[0])
    index = load_index("bench", settings=settings, verify=False)
    by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
    vectors = np.stack([by_path[name] for name in sorted(by_path)])
    clear_cache()
    return vectors


def decode_section(paths: list[Path], processor) -> None:
    from PIL import Image

    def per_second(function: Callable[[Path], object]) -> float:
        started = time.perf_counter()
        for path in paths:
            function(path)
        return len(paths) / (time.perf_counter() - started)

    def full(path: Path) -> object:
        return Image.open(path).convert("RGB")

    def draft(path: Path) -> object:
        image = Image.open(path)
        image.draft("RGB", (256, 256))
        return image.convert("RGB")

    full_rate, draft_rate = per_second(full), per_second(draft)
    full_pre = per_second(lambda p: processor(images=[full(p)], return_tensors="pt"))
    draft_pre = per_second(lambda p: processor(images=[draft(p)], return_tensors="pt"))
    print(
        f"decode (1 core): PIL full {full_rate:.0f} img/s, draft {draft_rate:.0f} img/s "
        f"(x{draft_rate / full_rate:.2f}); with the processor: {full_pre:.0f} vs {draft_pre:.0f} img/s "
        f"(x{draft_pre / full_pre:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=32, help="Photos to index (1024x768 JPEGs).")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of every variant.")
    parser.add_argument("--batch-size", type=int, default=16, help="Images per model call in the builds.")
    parser.add_argument("--seed-images", type=int, help="Images for the seed loop (default: all).")
    parser.add_argument("--ray", action="store_true", help="Also the Ray engine (requirements-ray.txt).")
    parser.add_argument("--only", choices=("auto",), help="Only the seed, build auto (and --ray).")
    args = parser.parse_args(argv)

    import torch

    from core.config import Settings
    from core.encoders import get_encoder

    print(machine())
    cuda = torch.cuda.is_available()
    model = siglip_base()
    photos = CACHE / "photos"
    paths = photo_like_jpegs(photos, args.images)
    folder = Path(tempfile.mkdtemp(prefix="build-speed-"))
    for path in paths:  # exactly these images, nothing else in the folder
        (folder / path.name).symlink_to(path)
    base = Settings.from_env().with_(
        model_overrides={"siglip": str(model)}, index_dir=folder.parent / f"{folder.name}-indexes"
    )
    fp32, auto = base.with_(precision="fp32"), base.with_(precision="auto")
    seed_encoder = get_encoder("siglip", fp32)
    auto_encoder = get_encoder("siglip", auto)
    seed_paths = paths[: args.seed_images or len(paths)]
    print(
        f"SigLIP B/16-224 (random weights), {len(paths)} JPEGs 1024x768, builds at batch {args.batch_size}; "
        f"auto precision here: {str(auto_encoder.dtype).removeprefix('torch.')} on {auto_encoder.device}"
    )
    decode_section(paths[:16], seed_encoder.processor)

    workers_variant = None if cuda else 1  # beside a GPU the default already uses workers
    variants: dict[str, Callable[[], np.ndarray]] = {
        "seed (batch 1, fp32, full decode)": lambda: seed_loop(seed_encoder, seed_paths),
        "build fp32": lambda: build_once(folder, fp32, 0 if not cuda else None, args.batch_size),
        "build auto precision, torch": lambda: build_once(folder, auto, None, args.batch_size),
        f"build torch + {'default' if cuda else 1} decode worker(s)": lambda: build_once(
            folder, auto, workers_variant, args.batch_size
        ),
    }
    from core.encoders import onnx_tower

    if onnx_tower.supports(auto_encoder):
        variants["build auto (runtime measured: the default)"] = lambda: build_once(
            folder, auto, None, args.batch_size, "auto"
        )
        variants["build onnx-int8 (int8 whenever it agrees)"] = lambda: build_once(
            folder, auto, None, args.batch_size, "onnx-int8"
        )
    if args.only:
        variants = {name: run for name, run in variants.items() if name.startswith(("seed", "build auto"))}
    if args.ray:
        import ray

        ray.init(include_dashboard=False, logging_level="WARNING")
        variants["build auto, Ray engine"] = lambda: build_once(
            folder, auto, None, args.batch_size, engine="ray"
        )
    counts = {name: len(seed_paths) if name.startswith("seed") else len(paths) for name in variants}
    seed_loop(seed_encoder, seed_paths[:2])  # warm-up: model kernels, file cache
    build_once(folder, auto, None, args.batch_size)
    if "build auto (runtime measured: the default)" in variants:  # export the towers once, not timed
        build_once(folder, auto, None, args.batch_size, "onnx-int8")
    rates: dict[str, list[float]] = {name: [] for name in variants}
    gpu: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, np.ndarray] = {}
    for round_number in range(args.rounds):
        for name, run in variants.items():
            with GpuUtilisation() as utilisation:
                started = time.perf_counter()
                outputs[name] = run()
                rates[name].append(counts[name] / (time.perf_counter() - started))
            if utilisation.mean is not None:
                gpu[name].append(utilisation.mean)
        print(f"round {round_number + 1}: " + ", ".join(f"{rates[n][-1]:.2f}" for n in variants) + " img/s")

    seed_name = next(iter(variants))
    seed_vectors = outputs[seed_name]
    print(
        f"\n{'variant':<42} {'img/s (median)':>14} {'x seed (median, range)':>26} {'min cosine':>10} "
        f"{'GPU %':>6}"
    )
    for name in variants:
        ratios = [ours / seed for ours, seed in zip(rates[name], rates[seed_name], strict=True)]
        cosine = float((outputs[name][: len(seed_vectors)] * seed_vectors).sum(axis=1).min())
        busy = f"{statistics.mean(gpu[name]):.0f}" if gpu[name] else "-"
        print(
            f"{name:<42} {statistics.median(rates[name]):>14.2f} "
            f"{statistics.median(ratios):>12.2f} ({min(ratios):.2f}-{max(ratios):.2f}) {cosine:>14.5f} "
            f"{busy:>6}"
        )
    for runtime, notes in CHOSEN.items():
        print(f"image_runtime {runtime}: " + " | ".join(notes))
    if args.ray:
        local = "build auto precision, torch"
        ratios = [
            on_ray / ours for on_ray, ours in zip(rates["build auto, Ray engine"], rates[local], strict=True)
        ]
        low, high = min(ratios), max(ratios)
        print(
            f"Ray engine / local engine (build auto): {statistics.median(ratios):.2f} ({low:.2f}-{high:.2f})"
        )
    print(
        "target: CPU build >= 3x the seed, cosine >= 0.999; one H100: >= 5,000 img/s end to end, "
        "the Ray engine within 10% of the local one"
    )
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(base.index_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
