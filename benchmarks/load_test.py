"""Load test: the whole app on tiny models, every endpoint driven by concurrent `gradio_client` users.

    python -m benchmarks.load_test                         # 16 users and a flooding client for 60 s
    python -m benchmarks.load_test --users 4 --seconds 10

It builds the tests' tiny checkpoints (core/testing/tiny_models/) and a 12-painting index (with SigLIP and
with SigLIP 2), serves the app from a subprocess on a free localhost port, and runs the users in
threads. Each user calls every endpoint in turn with its own uploads (searches of every kind, filters,
more like this, side by side, the zero-shot tabs, /evaluate with a zip of 8 images in 2 class folders,
and a collection of its own: create, add, search, delete), and every tenth request is bad input that
must fail with its clear message (or, for an empty canvas, answer with no results). Phases:

1. warm-up: all users at once against cold models (so concurrent first calls must load each model once);
2. baseline: one user, a few calls per endpoint (the latency ratios below are against it);
3. the measured run: all users for `--seconds`.

It prints requests, failures, p50 and p99 latency per endpoint, the server's resident memory (VmRSS)
after warm-up and at the end, and how often each model was loaded; and exits with 1 when a request
failed, memory grew by 10 % or more over the measured run, or a model loaded more than once.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: Largest growth of the server's resident memory over the measured run (after warm-up).
MAX_RSS_GROWTH = 0.10
#: A request that takes longer than this counts as failed (and the user moves on).
REQUEST_TIMEOUT_S = 120.0
#: Every n-th request of a user is bad input.
BAD_EVERY = 10
#: The models the app's tabs use (SigLIP 2 NaFlex serves only indexes built with it).
APP_MODELS = ("siglip", "siglip2", "siglip-multilingual", "clip", "nllb-clip", "mclip")

QUERIES = ("a red sun", "a blue moon", "green field", "a black line", "stripes", "a cross", "a star")
ENGLISH_LABELS = ("cat, dog, car", "coffee, tea, soup, juice", "rocket, plane, bird", "a star, a moon")
PAINTING_COLOURS = (
    "red", "blue", "green", "black", "gold", "purple", "orange", "grey", "teal", "deeppink", "navy", "brown",
)  # fmt: skip
OTHER_LABELS = ("Katze, Hund, Auto", "猫、犬、車", "قطة، كلب", "chat, chien, voiture", "🐱, 🐶, 🚗")
#: The Evaluate tab's default models.
EVAL_MODELS = ("siglip", "siglip2", "clip")
#: Models that endpoints also run as bulk uses (evaluations, collection builds): with precision=auto
#: on hardware with native bf16 these load twice, once per precision (README, "Precision").
BULK_MODELS = (*EVAL_MODELS, "siglip")
#: The served indexes: the paintings with SigLIP and with SigLIP 2 (for the side-by-side search).
INDEX, OTHER_INDEX = "wikiart", "wikiart-siglip2"
#: The pseudo-endpoint of a user's collection cycle (create, add, search, delete).
COLLECTION = "collection"


# --------------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True)
class Files:
    """Files the users upload (a sketch, a painting-like picture, photos, a file that is no image, a
    zip of two paintings, a zip of class folders for /evaluate and a zip with a `../` entry) and the
    thumbnails of the served index (for more-like-this)."""

    sketch: str
    picture: str
    photos: tuple[str, ...]
    not_an_image: str
    eval_zip: str
    traversal_zip: str
    collection: str = ""
    thumbnails: tuple[str, ...] = ()


def make_files(folder: Path, thumbnails: tuple[str, ...] = ()) -> Files:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    sketch = Image.new("RGBA", (512, 512), (255, 255, 255, 255))
    ImageDraw.Draw(sketch).ellipse((140, 140, 380, 380), outline=(0, 0, 0, 255), width=10)
    sketch.save(folder / "sketch.png")
    picture = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(picture).rectangle((20, 20, 76, 76), fill="green")
    picture.save(folder / "picture.png")
    (folder / "notes.jpg").write_text("not an image", encoding="utf-8")
    photos = tuple(str(path) for path in sorted(EXAMPLES.glob("*.jpg")))
    with zipfile.ZipFile(folder / "classes.zip", "w") as archive:
        for n, photo in enumerate(photos[:4]):
            for label in ("photo", "copy"):
                archive.write(photo, f"{label}/{n}.jpg")
    with zipfile.ZipFile(folder / "traversal.zip", "w") as archive:
        archive.write(photos[0], "cat/1.jpg")
        archive.writestr("../escape.jpg", Path(photos[0]).read_bytes())
    with zipfile.ZipFile(folder / "collection.zip", "w") as archive:
        for n, colour in enumerate(("gold", "navy")):
            image = Image.new("RGB", (64, 64), "white")
            ImageDraw.Draw(image).ellipse((8, 8, 56, 56), fill=colour)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            archive.writestr(f"album/{n}.png", buffer.getvalue())
    return Files(
        str(folder / "sketch.png"), str(folder / "picture.png"), photos, str(folder / "notes.jpg"),
        str(folder / "classes.zip"), str(folder / "traversal.zip"), str(folder / "collection.zip"),
        thumbnails,
    )  # fmt: skip


#: (endpoint name, build the arguments, check the result or the error message).
Request = tuple[str, Callable[[random.Random], tuple[tuple[Any, ...], dict[str, Any]]], str | None]


def requests_for(files: Files) -> tuple[list[Request], list[Request]]:
    """(good requests, one per endpoint; bad requests with the text their answer must contain)."""
    from gradio_client import handle_file

    def sketch(path: str) -> dict[str, Any]:
        return {"background": None, "layers": [], "composite": handle_file(path)}

    good: list[Request] = [
        ("/draw_search", lambda r: ((sketch(files.sketch),), {"k": r.randint(1, 12)}), None),
        ("/text_search", lambda r: ((r.choice(QUERIES),), {"k": r.randint(1, 12)}), None),
        ("/image_search", lambda r: ((handle_file(files.picture),), {"k": r.randint(1, 12)}), None),
        (
            "/compare_clip_siglip",
            lambda r: ((handle_file(r.choice(files.photos)), r.choice(ENGLISH_LABELS)), {}),
            None,
        ),
        (
            "/compare_multilingual",
            lambda r: ((handle_file(r.choice(files.photos)), r.choice(OTHER_LABELS)), {}),
            None,
        ),
        ("/evaluate", lambda r: ((handle_file(files.eval_zip), "zeroshot", list(EVAL_MODELS)), {}), None),
        ("/list_indexes", lambda r: ((), {}), None),
        (
            "/combined_search",
            lambda r: ((handle_file(files.picture), r.choice(QUERIES), "black"), {"k": r.randint(1, 12)}),
            None,
        ),
        ("/similar", lambda r: ((r.choice(files.thumbnails),), {"k": r.randint(1, 12)}), None),
        (
            "/text_search",
            lambda r: ((r.choice(QUERIES),), {"filters": ["artist=Artist 1"], "min_score": -0.5}),
            None,
        ),
        ("/compare_search", lambda r: ((r.choice(QUERIES), None, INDEX, OTHER_INDEX), {"k": 4}), None),
        (COLLECTION, lambda r: ((), {}), None),  # /create_index, /add_to_index, /delete_index
    ]
    blank = Path(files.sketch).with_name("blank.png")
    if not blank.exists():
        from PIL import Image

        Image.new("RGB", (512, 512), "white").save(blank)
    bad: list[Request] = [
        ("/compare_clip_siglip", lambda r: ((handle_file(files.photos[0]), " , "), {}), "No labels given"),
        (
            "/image_search",
            lambda r: ((handle_file(files.not_an_image),), {}),
            "could not be read as an image",
        ),
        ("/draw_search", lambda r: ((sketch(str(blank)),), {}), "canvas is empty"),
        (
            "/evaluate",
            lambda r: ((handle_file(files.traversal_zip), "zeroshot", list(EVAL_MODELS)), {}),
            "outside its own folder",
        ),
        ("/similar", lambda r: (("no-such-item.jpg",), {}), "has no item"),
        ("/text_search", lambda r: (("a red sun",), {"filters": ["Minimalism"]}), "is not column=value"),
        (
            "/create_index",
            lambda r: (([handle_file(files.collection)], "../escape", "siglip"), {}),
            "is not a valid index name",
        ),
        ("/delete_index", lambda r: ((INDEX,), {}), "is not yours"),
    ]
    return good, bad


def collection_cycle(client: Any, files: Files, phase: str, recorder: Recorder) -> None:
    """A user's own collection: create it from a zip, add a picture, search it, share it by a link,
    delete it."""
    from gradio_client import handle_file

    name = f"load-{uuid.uuid4().hex[:12]}"
    steps: list[Request] = [
        ("/create_index", lambda r: (([handle_file(files.collection)], name, "siglip"), {}), None),
        ("/add_to_index", lambda r: (([handle_file(files.picture)], name), {}), None),
        ("/text_search", lambda r: (("a gold disc",), {"index": name, "k": 3}), None),
        ("/share_index", lambda r: ((name, "link"), {}), None),
        ("/delete_index", lambda r: ((name,), {}), None),
    ]
    for step in steps:
        if not call(client, step, random.Random(0), phase, recorder):
            return


@dataclass
class Sample:
    endpoint: str
    phase: str
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def call(client: Any, request: Request, rng: random.Random, phase: str, recorder: Recorder) -> bool:
    """Make one request and record its latency and whether it behaved as it must (returned)."""
    from gradio_client.exceptions import AppError

    endpoint, arguments, expected = request
    args, kwargs = arguments(rng)
    started = time.perf_counter()
    ok, error = True, ""
    try:
        result = client.submit(*args, api_name=endpoint, **kwargs).result(timeout=REQUEST_TIMEOUT_S)
        if expected is not None and expected not in json.dumps(result, ensure_ascii=False):
            ok, error = False, f"expected an answer with {expected!r}, got {str(result)[:200]}"
    except AppError as exc:
        if expected is None or expected not in str(exc):
            ok, error = False, f"AppError: {exc}"
    except Exception as exc:  # a timeout, a dropped connection...: all count as failures
        ok, error = False, f"{type(exc).__name__}: {exc}"
    name = endpoint if expected is None else f"{endpoint} (bad input)"
    recorder.add(Sample(name, phase, time.perf_counter() - started, ok, error[:300]))
    return ok


def run_users(
    url: str,
    files: Files,
    users: int,
    seconds: float,
    phase: str,
    recorder: Recorder,
    seed: int = 0,
    only: set[str] | None = None,
) -> None:
    """`users` threads, each with its own Client, calling the endpoints (or those in `only`) in turn
    until `seconds` pass."""
    from gradio_client import Client

    good, bad = requests_for(files)
    if only is not None:
        good = [request for request in good if request[0] in only]
    deadline = time.monotonic() + seconds

    def user(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        try:
            client = Client(url, verbose=False)
        except Exception as exc:
            recorder.add(Sample("connect", phase, 0.0, False, f"{type(exc).__name__}: {exc}"))
            return
        count = number * len(good) // max(1, users)  # users start at endpoints spread over the list
        while time.monotonic() < deadline:
            count += 1
            request = good[count % len(good)]
            if count % BAD_EVERY == 0:
                call(client, bad[count // BAD_EVERY % len(bad)], rng, phase, recorder)
            elif request[0] == COLLECTION:
                collection_cycle(client, files, phase, recorder)
            else:
                call(client, request, rng, phase, recorder)
        client.close()

    threads = [threading.Thread(target=user, args=(n,), name=f"user-{n}") for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 60)


def flood(url: str, files: Files, seconds: float, phase: str, recorder: Recorder, burst: int = 20) -> None:
    """One more client that does not play fair: `burst` evaluations and builds at once, again and again,
    until `seconds` pass. The fair queue must refuse what is over its share at once (each refusal says
    to try again), never let it fill the queue, and the other users must not fail because of it."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError, ValidationError

    client = Client(url, verbose=False)
    deadline, round_ = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        round_ += 1
        evaluation = (handle_file(files.eval_zip), "zeroshot", list(EVAL_MODELS))
        jobs = [
            client.submit(*evaluation, api_name="/evaluate")
            if n % 2
            else client.submit([handle_file(files.picture)], f"flood-{round_}-{n}", api_name="/create_index")
            for n in range(burst)
        ]
        for job in jobs:
            started = time.perf_counter()
            try:
                job.result(timeout=REQUEST_TIMEOUT_S)
                ok, error, name = True, "", "flood (admitted)"
            except (ValidationError, AppError) as exc:  # refused: by the fair queue, or by a quota
                ok, error, name = "Try again" in str(exc), str(exc)[:300], "flood (refused)"
            except Exception as exc:
                ok, error, name = False, f"{type(exc).__name__}: {exc}"[:300], "flood (failed)"
            recorder.add(Sample(name, phase, time.perf_counter() - started, ok, "" if ok else error))
    for row in client.predict(api_name="/list_indexes"):
        if row["name"].startswith("flood-"):
            client.predict(row["name"], api_name="/delete_index")
    client.close()


def run_baseline(url: str, files: Files, rounds: int, recorder: Recorder) -> None:
    """One user, `rounds` calls of each endpoint: the latency without contention."""
    from gradio_client import Client

    good, _ = requests_for(files)
    client = Client(url, verbose=False)
    rng = random.Random(12345)
    for _ in range(rounds):
        for request in good:
            if request[0] == COLLECTION:
                collection_cycle(client, files, "baseline", recorder)
            else:
                call(client, request, rng, "baseline", recorder)
    client.close()


# --------------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class EndpointStats:
    endpoint: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of non-empty `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def endpoint_stats(samples: Sequence[Sample], phase: str) -> list[EndpointStats]:
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.phase == phase:
            by_endpoint[sample.endpoint].append(sample)
    stats = []
    for endpoint in sorted(by_endpoint):
        rows = by_endpoint[endpoint]
        times = [row.seconds * 1000 for row in rows]
        stats.append(
            EndpointStats(
                endpoint,
                len(rows),
                sum(not row.ok for row in rows),
                percentile(times, 0.50),
                percentile(times, 0.99),
                max(times),
            )
        )
    return stats


def failures(samples: Sequence[Sample]) -> list[Sample]:
    return [sample for sample in samples if not sample.ok]


# --------------------------------------------------------------------------------------------------
# The server (a subprocess, so that its memory is the app's alone)


def serve(index_dir: Path, port: int) -> int:
    """`--serve`: launch the app, say READY, then answer `stats` lines on stdin until it closes."""
    import apps
    from core import encoders
    from core.config import Settings

    settings = Settings.from_env().with_(index_dir=index_dir)
    demo = apps.build_demo(settings)
    _, url, _ = apps.launch(demo, host="127.0.0.1", port=port, settings=settings, block=False)
    print(f"READY {url}", flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(
                json.dumps({"load_counts": dict(encoders.load_counts), "rss_kb": rss_kb(os.getpid())}),
                flush=True,
            )
        elif line.strip() == "quit":
            break
    demo.close()
    return 0


def rss_kb(pid: int) -> int:
    """Resident memory of process `pid` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The app in a subprocess (its log in `log`); `stats()` asks it for its model load counts."""

    def __init__(self, index_dir: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "w", encoding="utf-8") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.load_test", "--serve", str(index_dir), str(free_port())],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
            )
        self.url = self._wait_ready(timeout=180)

    def _wait_ready(self, timeout: float) -> str:
        result: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None

        def read_until_ready() -> None:  # Gradio prints its MCP server's address first
            for line in stdout:
                if line.startswith("READY "):
                    result.append(line)
                    return

        reader = threading.Thread(target=read_until_ready, daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            self.close()
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"the app did not start within {timeout:.0f} s: {result}\n{tail}")
        return result[0].split()[1]

    def stats(self) -> dict[str, Any]:
        self.process.stdin.write("stats\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return json.loads(self.process.stdout.readline())  # type: ignore[union-attr]

    def rss_kb(self) -> int:
        return rss_kb(self.process.pid)

    def close(self) -> None:
        try:
            self.process.communicate("quit\n", timeout=30)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            self.process.kill()
            self.process.wait(timeout=30)


def expected_loads(env: dict[str, str]) -> dict[str, int]:
    """How many times each model should load in the server: once per precision its uses resolve to
    (interactive uses, and bulk ones for `BULK_MODELS`), never more."""
    from core.config import Settings
    from core.encoders import run_settings

    settings = Settings.from_env(env)
    twice = run_settings(settings, bulk=True).precision != run_settings(settings).precision
    return {key: 2 if twice and key in BULK_MODELS else 1 for key in APP_MODELS}


def prepare(workdir: Path, models: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """Checkpoints ({slot: value}; default: the tests' tiny ones, cached like theirs) and a 12-picture
    index. Returns (index dir, env)."""
    from PIL import Image, ImageDraw

    from core.testing.tiny_models import build_tiny_models, env_var_name

    cache = Path(
        os.environ.get("SIGLIP_PROJECTS_TEST_CACHE") or Path.home() / ".cache" / "siglip-projects-tests"
    )
    models = models or build_tiny_models(cache)
    env = {**os.environ, "SIGLIP_PROJECTS_WIKIART_SIZE": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.update({env_var_name(slot): value for slot, value in models.items()})
    os.environ.update({key: value for key, value in env.items() if key.startswith("SIGLIP_PROJECTS_")})

    from core.config import Settings
    from core.index import BuildOptions, FolderSource, build_index

    pictures = workdir / "paintings"
    pictures.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, colour in enumerate(PAINTING_COLOURS):
        image = Image.new("RGB", (96, 96), "white")
        draw = ImageDraw.Draw(image)
        (draw.ellipse if n % 2 else draw.rectangle)((15 + n, 20, 80, 76 - n), fill=colour)
        name = f"{n:02d}-{colour}.png"
        image.save(pictures / name)
        rows.append({"file_name": name, "title": f"{colour.title()} shape", "artist": f"Artist {n % 4}"})
    (pictures / "metadata.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"
    )
    index_dir = workdir / "indexes"
    for name, model in ((INDEX, "siglip"), (OTHER_INDEX, "siglip2")):
        build_index(
            name,
            FolderSource(pictures),
            BuildOptions(model_key=model),
            settings=Settings.from_env().with_(index_dir=index_dir),
        )
    return index_dir, env


# --------------------------------------------------------------------------------------------------
# Report


def print_table(title: str, stats: Sequence[EndpointStats], baseline: dict[str, float]) -> None:
    print(f"\n{title}")
    columns = ("requests", "failed", "p50 ms", "p99 ms", "max ms")
    print(f"  {'endpoint':<34} " + " ".join(f"{c:>8}" for c in columns) + f" {'p50/1 user':>10}")
    for row in stats:
        ratio = f"{row.p50_ms / baseline[row.endpoint]:.1f}x" if row.endpoint in baseline else ""
        print(
            f"  {row.endpoint:<34} {row.requests:>8} {row.failures:>8} {row.p50_ms:>8.0f} {row.p99_ms:>8.0f} "
            f"{row.max_ms:>8.0f} {ratio:>10}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load_test", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=16, help="Concurrent users (default: 16).")
    parser.add_argument("--seconds", type=float, default=60, help="Length of the measured run (default: 60).")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60,
        help="Seconds of warm-up, all users (default: 60: with every endpoint, the server's memory "
        "settles after about a minute; after 15 s it still grew 15%% over the run).",
    )
    parser.add_argument("--baseline-rounds", type=int, default=5, help="Single-user calls per endpoint.")
    parser.add_argument(
        "--no-flood",
        dest="flood",
        action="store_false",
        help="Leave out the flooding client (by default one more client submits 20 evaluations and builds "
        "at once, again and again, during the measured run).",
    )
    parser.add_argument("--serve", nargs=2, metavar=("INDEX_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if args.serve:
        return serve(Path(args.serve[0]), int(args.serve[1]))

    with tempfile.TemporaryDirectory(prefix="siglip-load-") as tmp:
        workdir = Path(tmp)
        index_dir, env = prepare(workdir)
        thumbnails = tuple(path.name for path in sorted((index_dir / INDEX / "thumbnails").iterdir()))
        files = make_files(workdir / "uploads", thumbnails)
        server = Server(index_dir, env, workdir / "server.log")
        try:
            rss_start = server.rss_kb()
            recorder = Recorder()
            plan = f"{args.users} users, warm-up {args.warmup:.0f} s, run {args.seconds:.0f} s"
            print(f"App at {server.url}: {plan}")
            run_users(server.url, files, args.users, args.warmup, "warm-up", recorder, seed=1)
            run_baseline(server.url, files, args.baseline_rounds, recorder)
            rss_warm = server.rss_kb()
            flooder = threading.Thread(
                target=flood, args=(server.url, files, args.seconds, "run", recorder), name="flood"
            )
            if args.flood:
                flooder.start()
            run_users(server.url, files, args.users, args.seconds, "run", recorder, seed=2)
            if args.flood:
                flooder.join(timeout=args.seconds + REQUEST_TIMEOUT_S + 60)
            rss_end = server.rss_kb()
            loads = server.stats()["load_counts"]
        finally:
            server.close()

    baseline = {row.endpoint: row.p50_ms for row in endpoint_stats(recorder.samples, "baseline")}
    run = endpoint_stats(recorder.samples, "run")
    print_table("Single user (baseline)", endpoint_stats(recorder.samples, "baseline"), baseline)
    print_table(f"{args.users} concurrent users for {args.seconds:.0f} s", run, baseline)
    total = sum(row.requests for row in run)
    failed_run = sum(row.failures for row in run)
    print(f"  {'all':<34} {total:>8} {failed_run:>8}   ({total / args.seconds:.1f} requests/s)")
    failed = failures(recorder.samples)
    growth = rss_end / rss_warm - 1
    print(f"\nFailed requests (all phases): {len(failed)} of {len(recorder.samples)}")
    for sample in failed[:10]:
        print(f"  {sample.phase} {sample.endpoint}: {sample.error}")
    print(
        f"Server memory (VmRSS): {rss_start / 1024:.0f} MiB at start, {rss_warm / 1024:.0f} MiB after "
        f"warm-up, {rss_end / 1024:.0f} MiB at the end: {growth:+.1%} over the run "
        f"(limit {MAX_RSS_GROWTH:+.0%})"
    )
    expected = expected_loads(env)
    print(
        "Model loads: "
        + ", ".join(f"{key} {loads.get(key, 0)}" for key in APP_MODELS)
        + " (expected: once per precision used: "
        + ", ".join(f"{key} {count}" for key, count in expected.items())
        + ")"
    )
    ok = not failed and growth < MAX_RSS_GROWTH and all(loads.get(key) == expected[key] for key in APP_MODELS)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
