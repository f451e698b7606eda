"""The ratio users feel: a CLI index build against the seed's loop, both timed as whole processes.

    python -m benchmarks.whole_process                    # 64 JPEGs, 2 alternating rounds
    python -m benchmarks.whole_process --images 256 --rounds 3

Each round runs, in alternation so that a busy machine slows both alike, on the same photo-like
1024x768 JPEGs and the real-size SigLIP B/16-224 (random weights):
  * seed: a fresh `python` that imports transformers, loads the checkpoint and its processor in fp32,
    and embeds one image at a time (PIL full decode, the processor, `get_image_features`): the
    original project's loop (`benchmarks/seed_loop.py`);
  * ours: a fresh `python app.py index build NAME --folder ... --rebuild` with the defaults
    (`image_runtime=auto`, `precision=auto`): start-up, model load, the runtime trial on the first
    batch, decoding, thumbnails, FAISS and manifest all included.
Before the rounds, one build with `--image-runtime onnx-int8` exports the ONNX towers and runs a
runtime trial (both cached per checkpoint and revision, as a user's first large build does: builds
too small for a trial of their own then use the remembered choice once their first images agree);
that first-build cost is printed too.
It prints the CPU's features, each round's wall times, the ratio (median and range), the runtime the
build chose, and the lowest cosine between the index's vectors and the seed's fp32 embeddings.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, machine, photo_like_jpegs, siglip_base  # sets HF_HUB_OFFLINE first

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one whole process."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=64, help="Photos to index (1024x768 JPEGs).")
    parser.add_argument("--rounds", type=int, default=2, help="Alternating rounds of seed and build.")
    args = parser.parse_args(argv)

    print(machine())
    model = siglip_base()
    work = Path(tempfile.mkdtemp(prefix="whole-process-"))
    folder = work / "photos"
    folder.mkdir()
    for path in photo_like_jpegs(CACHE / "photos", args.images):
        (folder / path.name).symlink_to(path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(work / "cache")}
    seed_out = work / "seed.npy"
    seed = [sys.executable, "-m", "benchmarks.seed_loop", str(folder), str(model), str(seed_out)]
    ours = [
        sys.executable, "app.py", "--model", f"siglip={model}", "--index-dir", str(work / "indexes"),
        "index", "build", "bench", "--folder", str(folder), "--rebuild",
    ]  # fmt: skip
    print(f"SigLIP B/16-224 (random weights), {args.images} JPEGs 1024x768, whole processes")
    first, _ = run([*ours, "--image-runtime", "onnx-int8"], env)
    print(f"first build on this machine (exports and quantises the ONNX towers): {first:.1f} s")

    times: dict[str, list[float]] = {"seed": [], "ours": []}
    summary = ""
    for number in range(args.rounds):
        seconds, printed = run(seed, env)
        times["seed"].append(seconds)
        loop = _number(printed, r"loop: \d+ images in ([\d.]+) s")
        seconds, summary = run(ours, env)
        times["ours"].append(seconds)
        embedding = _number(summary, r"\d+ embedded in ([\d.]+) s")
        print(
            f"round {number + 1}: seed {times['seed'][-1]:.1f} s ({args.images / loop:.2f} img/s in its "
            f"loop), ours {seconds:.1f} s ({args.images / embedding:.2f} img/s embedding, any trial included)"
        )
    ratios = [s / o for s, o in zip(times["seed"], times["ours"], strict=True)]
    chosen = [line.strip() for line in summary.splitlines() if "Images embedded with" in line]
    print(f"chosen: {chosen[0] if chosen else '(no note)'}")

    sys.path.insert(0, str(ROOT))
    from core.config import Settings
    from core.index import load_index

    index = load_index("bench", settings=Settings.from_env().with_(index_dir=work / "indexes"))
    by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
    vectors = np.stack([by_path[name] for name in sorted(by_path)])
    cosine = float((vectors * np.load(seed_out)).sum(axis=1).min())
    print(
        f"whole process, ours / seed: {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-"
        f"{max(ratios):.2f}); seed {statistics.median(times['seed']):.1f} s, ours "
        f"{statistics.median(times['ours']):.1f} s; min cosine to the seed's fp32 {cosine:.5f}"
    )
    print("target: >= 2.5x on an AVX2-only CPU, >= 3x with AVX-512 VNNI; cosine >= 0.999")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _number(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
