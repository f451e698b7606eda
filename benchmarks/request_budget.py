"""Per-request budget: the worst case of every endpoint at its limits, in time and server memory.

    python -m benchmarks.request_budget                   # the tests' tiny checkpoints (~2 min)
    python -m benchmarks.request_budget --models real-size  # real-size random checkpoints (~10 GB, once)

It serves the app from its own process (as `benchmarks.load_test` does) and sends each endpoint its
largest allowed request, three times (labels differ each time, so the label cache never helps):

- images: a 64 Mpx JPEG (the pixel limit), a 25 Mpx RGB PNG, a 12.5 Mpx RGBA PNG and a 64 Mpx
  greyscale PNG (the decode limit of each mode), all under the 50 MB upload limit, as the picture to
  search with, the drawing, and the image to classify;
- texts: a 2,000-character query, 50 labels of 300 characters (the labels-field limit in all), a
  200-character template; the largest k (48) and top_k (50);
- refused at the limits: a query just under the 2 MB request-size limit, and a 20 MB one.

Every case runs once unmeasured first (models load, kernels for new shapes, weight pages read). For
each it prints the slowest of the three (wall time of the whole request, single user: an upper bound
of the model time), the largest peak growth of the server's resident memory
during a request (VmHWM, reset before each, minus VmRSS before it), and how much resident memory the
three left behind. With tiny checkpoints it exits 1 when a request takes 5 s or more, or its peak
growth is 200 MB or more (the budgets of the README).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.common import CACHE, machine  # sets HF_HUB_OFFLINE first
from benchmarks.load_test import ROOT, Server, prepare
from core.testing.fuzz import REQUEST_BUDGET_S, RSS_BUDGET_MB, RawClient, rss_mb

IMAGES = CACHE / "request-budget-v1"
#: The search endpoints' optional parameters after k and the model: index, min_score, filters.
SEARCH_REST = ("siglip", "", -1, [])
LABEL_WORDS = "a detailed oil painting of a small fishing boat on a stormy grey sea under dark clouds "
QUERY = (LABEL_WORDS * 30)[:2_000]
TEMPLATE = ("an old photograph, slightly faded, of {} " + "seen from afar in the evening light " * 6)[:200]


def largest_images(folder: Path = IMAGES) -> dict[str, Path]:
    """The largest image of each kind the app accepts from a request, made once (smooth random
    content with grain, so that files are as large as photographs of that size)."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {
        "JPEG 8000x8000 RGB": ("jpeg-64mpx.jpg", (8000, 8000), "RGB"),
        "PNG 5000x5000 RGB": ("png-25mpx-rgb.png", (5000, 5000), "RGB"),
        "PNG 3535x3535 RGBA": ("png-12mpx-rgba.png", (3535, 3535), "RGBA"),
        "PNG 8000x8000 L": ("png-64mpx-grey.png", (8000, 8000), "L"),
    }
    paths = {}
    rng = np.random.default_rng(0)
    for label, (name, (width, height), mode) in specs.items():
        path = folder / name
        if not path.exists():
            bands = len(mode)
            small = rng.integers(0, 255, (height // 64, width // 64, bands), dtype=np.uint8)
            image = Image.fromarray(small.squeeze(), mode).resize((width, height), Image.Resampling.BICUBIC)
            grain = rng.integers(-3, 4, (height, width, bands)).squeeze()
            pixels = (np.asarray(image, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, mode)
            image.save(path, quality=95) if name.endswith(".jpg") else image.save(path, optimize=False)
        assert path.stat().st_size < 50 * 1024 * 1024, f"{path} is over the upload limit"
        paths[label] = path
    return paths


def labels(repetition: int) -> str:
    """50 labels of 300 characters, different for each repetition (no label-cache hits)."""
    return ", ".join(f"{repetition}{n:02d} {(LABEL_WORDS * 4)[: 300 - 4]}" for n in range(50))


@dataclass
class Case:
    endpoint: str
    what: str
    data: Callable[[int], list[Any]]  # the request's values for repetition n
    refused: bool = False


def cases(files: dict[str, dict[str, Any]]) -> list[Case]:
    found = [
        Case(
            "text_search", "query of 2,000 chars, k 48", lambda n: [f"{n} {QUERY}"[:2_000], 48, *SEARCH_REST]
        )
    ]
    for kind, file in files.items():
        sketch = {"background": None, "layers": [], "composite": file}
        found += [
            Case("image_search", f"{kind}, k 48", lambda n, f=file: [f, 48, *SEARCH_REST]),
            Case("draw_search", f"{kind} drawing, k 48", lambda n, s=sketch: [s, 48, *SEARCH_REST]),
            Case(
                "compare_clip_siglip",
                f"{kind}, 50x300-char labels",
                lambda n, f=file: [f, labels(n), TEMPLATE, 50],
            ),
            Case(
                "compare_multilingual",
                f"{kind}, 50x300-char labels",
                lambda n, f=file: [f, labels(n), "auto", TEMPLATE, 50],
            ),
        ]
    near_limit, huge = 2 * 1024 * 1024 - 200, 20_000_000
    found += [
        Case("text_search", "query of 2 MB (refused)", lambda n: ["q" * near_limit, 48, *SEARCH_REST], True),
        Case(
            "text_search",
            "query of 20 MB (refused, HTTP 413)",
            lambda n: ["q" * huge, 48, *SEARCH_REST],
            True,
        ),
    ]
    return found


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def measure(client: RawClient, pid: int, case: Case, repeat: int) -> tuple[list[float], float, float, str]:
    """(seconds of each run, largest peak growth MiB, growth left after all, last message)."""
    times, peak = [], 0.0
    before_all = rss_mb(pid)
    message = ""
    for n in range(repeat):
        body = json.dumps({"data": case.data(n)}).encode()
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = rss_mb(pid)
        outcome = client.send(case.endpoint, body)
        times.append(outcome.seconds)
        peak = max(peak, status_kb(pid, "VmHWM") / 1024 - before)
        if (outcome.kind == "error") != case.refused:
            raise AssertionError(f"/{case.endpoint} {case.what}: {outcome.kind} {outcome.message}")
        message = outcome.message or ""
    return times, peak, rss_mb(pid) - before_all, message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.request_budget", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models", choices=("tiny", "real-size"), default="tiny")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each case (default: 3).")
    args = parser.parse_args(argv)
    print(machine())
    models = None
    if args.models == "real-size":
        from benchmarks.memory import build_checkpoints

        models = build_checkpoints()
    images = largest_images()
    with tempfile.TemporaryDirectory(prefix="siglip-budget-") as tmp:
        index_dir, env = prepare(Path(tmp), models)
        server = Server(index_dir, env, Path(tmp) / "server.log")
        try:
            client = RawClient(server.url, timeout=600)
            files = {kind: client.upload(path.name, path.read_bytes()) for kind, path in images.items()}
            small = client.upload("cat.jpg", (ROOT / "examples" / "cat.jpg").read_bytes())
            drawing = {"background": None, "layers": [], "composite": small}
            # Every model loaded, and every thumbnail in Gradio's cache: neither is what this measures.
            for endpoint, data in (
                ("text_search", ["a cat", 48, *SEARCH_REST]),
                ("image_search", [small, 48, *SEARCH_REST]),
                ("draw_search", [drawing, 48, *SEARCH_REST]),
                ("compare_clip_siglip", [small, "a cat, a dog", "{}", 2]),
                ("compare_multilingual", [small, "Katze, Hund", "auto", "{}", 2]),
            ):
                assert client.call(endpoint, data).kind == "result", endpoint
            # Each case once, unmeasured: the first request of a size also pays one-off costs (kernels
            # picked for new shapes, weight pages of the memory-mapped checkpoints read from disk).
            for case in cases(files):
                client.send(case.endpoint, json.dumps({"data": case.data(99)}).encode())
            pid = server.process.pid
            print(f"\n{args.models} checkpoints; server at {rss_mb(pid):.0f} MiB with every model loaded")
            print(
                f"  {'endpoint':<22} {'largest request':<40} {'p50 s':>6} {'max s':>6} {'peak MiB':>9} "
                f"{'left MiB':>9}"
            )
            over = []
            for case in cases(files):
                times, peak, left, message = measure(client, pid, case, args.repeat)
                seconds, median = max(times), statistics.median(times)
                print(
                    f"  /{case.endpoint:<21} {case.what:<40} {median:>6.2f} {seconds:>6.2f} "
                    f"{peak:>+9.0f} {left:>+9.0f}"
                )
                if case.refused:
                    print(f"  {'':<23} -> {message[:100]}")
                if seconds >= REQUEST_BUDGET_S or peak >= RSS_BUDGET_MB:
                    over.append(f"/{case.endpoint} {case.what}: {seconds:.2f} s, {peak:+.0f} MiB")
        finally:
            server.close()
    print(
        f"\nBudget per request: under {REQUEST_BUDGET_S:.0f} s and {RSS_BUDGET_MB} MiB of peak growth (tiny)"
    )
    for line in over:
        print(f"  over: {line}")
    if args.models != "tiny":
        return 0
    print("PASS" if not over else "FAIL")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
