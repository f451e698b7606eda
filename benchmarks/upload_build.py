"""Collections from uploads: the time to index N images uploaded to the app (as files, and as one zip),
against `build_index` over the same images in a folder, in the same run.

    python -m benchmarks.upload_build                  # 200 images of 640x480, tiny models
    python -m benchmarks.upload_build --images 500 --size 1024

The app serves with the tests' tiny checkpoints (core/testing/tiny_models/), so the figures measure what the
app adds around the model (upload, staging, hashing, the background job, progress) rather than the
model. Each measurement runs `--repeats` times on a fresh name; medians are printed with the ratio to
the folder build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.load_test import free_port


def make_images(folder: Path, count: int, size: int) -> list[str]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for n in range(count):
        base = rng.integers(0, 255, (size * 3 // 4 // 8, size // 8, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((size, size * 3 // 4), Image.Resampling.BICUBIC)
        path = folder / f"photo-{n:04d}.jpg"
        image.save(path, quality=90)
        paths.append(str(path))
    return paths


def timed(run: Callable[[str], object], repeats: int, prefix: str) -> list[float]:
    seconds = []
    for attempt in range(repeats):
        started = time.perf_counter()
        run(f"{prefix}-{attempt}")
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.upload_build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=int, default=200, help="Images per collection (default: 200).")
    parser.add_argument("--size", type=int, default=640, help="Width of the JPEGs (default: 640).")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each measurement (default: 3).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ["SIGLIP_PROJECTS_WIKIART_SIZE"] = "0"
    from core.testing.tiny_models import build_tiny_models, env_var_name

    cache = Path(
        os.environ.get("SIGLIP_PROJECTS_TEST_CACHE") or Path.home() / ".cache" / "siglip-projects-tests"
    )
    for slot, value in build_tiny_models(cache).items():
        os.environ[env_var_name(slot)] = value

    import apps
    from core.config import Settings
    from core.index import FolderSource, build_index

    with tempfile.TemporaryDirectory(prefix="siglip-upload-build-") as tmp:
        root = Path(tmp)
        paths = make_images(root / "photos", args.images, args.size)
        archive = root / "photos.zip"
        with zipfile.ZipFile(archive, "w") as zipped:  # JPEGs: stored, as zip tools do
            for path in paths:
                zipped.write(path, f"photos/{Path(path).name}")
        settings = Settings.from_env().with_(index_dir=root / "indexes")
        demo = apps.build_demo(settings)
        _, url, _ = apps.launch(demo, host="127.0.0.1", port=free_port(), settings=settings, block=False)
        try:
            return measure(url, settings, paths, str(archive), args, build_index, FolderSource, root)
        finally:
            demo.close()


def measure(url, settings, paths, archive, args, build_index, FolderSource, root) -> int:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    build_index("warm-up", FolderSource(Path(paths[0]).parent), settings=settings)  # loads the model

    def folder(name: str) -> object:
        return build_index(name, FolderSource(Path(paths[0]).parent), settings=settings)

    def uploaded(files: list[str]) -> Callable[[str], object]:
        def run(name: str) -> object:
            _, report = client.predict(
                [handle_file(f) for f in files], name, "siglip", api_name="/create_index"
            )
            assert report["count"] == args.images, report
            return report

        return run

    results = {
        "build_index over a folder": timed(folder, args.repeats, "folder"),
        f"/create_index, {args.images} files": timed(uploaded(paths), args.repeats, "files"),
        "/create_index, one zip": timed(uploaded([archive]), args.repeats, "zip"),
    }
    baseline = statistics.median(results["build_index over a folder"])
    print(f"\n{args.images} JPEGs of {args.size}x{args.size * 3 // 4}, tiny SigLIP, {args.repeats} runs each")
    print(f"  {'how':<32} {'median s':>9} {'img/s':>7} {'vs folder':>10}   runs")
    for how, seconds in results.items():
        median = statistics.median(seconds)
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {how:<32} {median:>9.2f} {args.images / median:>7.0f} {median / baseline:>9.2f}x   {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
