"""The API fuzz of tests/reliability/test_fuzz.py, longer, against the app served from its own process.

    python -m benchmarks.fuzz_api                   # 100 values per parameter (~1,800 requests)
    python -m benchmarks.fuzz_api --examples 20

It serves the app on the tests' tiny checkpoints (as `benchmarks.load_test` does, so the server's
memory is its own), then sends every parameter of every endpoint `--examples` hostile values from
`hypothesis` (the other parameters good), and checks each answer: a result, or an error with a message
of its own (Gradio's generic error only for what Gradio refuses itself before the app runs: a file
nobody uploaded), within the per-request budget. It prints, per parameter, how the requests were
answered and the slowest; the server's resident memory (VmRSS) before and after, and its peak (VmHWM);
and exits with 1 on any failure or when memory grew by more than the budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import machine  # sets HF_HUB_OFFLINE first
from benchmarks.load_test import ROOT, Server, prepare
from core.testing.fuzz import (
    ENDPOINTS,
    REQUEST_BUDGET_S,
    RSS_BUDGET_MB,
    Endpoint,
    RawClient,
    check_outcome,
    names_foreign_file,
    rss_mb,
    upload_files,
)


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def fuzz_parameter(
    client: RawClient, endpoint: Endpoint, position: int, files: dict[str, Any], examples: int
) -> tuple[Counter[str], float, list[str]]:
    """Send `examples` hostile values for one parameter. Returns (answers by kind, slowest s, failures)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from core.limits import quote

    parameter = endpoint.parameters[position]
    uploaded = {file["path"] for file in files.values()}
    counts: Counter[str] = Counter()
    slowest = 0.0
    failures: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(value=parameter.bad(files))
    def send(value: object) -> None:
        nonlocal slowest
        data = endpoint.good_values(files)
        data[position] = value
        what = f"/{endpoint.api_name} {parameter.name}={quote(value)}"
        foreign = names_foreign_file(value, uploaded)
        try:
            outcome = client.call(endpoint.api_name, data)
            check_outcome(outcome, what, foreign)
        except Exception as error:  # recorded, not raised: the run goes on
            failures.append(f"{what}: {type(error).__name__}: {str(error)[:300]}")
            counts["failed"] += 1
            return
        counts["gradio" if foreign else outcome.kind] += 1
        slowest = max(slowest, outcome.seconds)

    send()
    if not endpoint.answers(client.call(endpoint.api_name, endpoint.good_values(files))):
        failures.append(f"/{endpoint.api_name}: no result for good values after the fuzz")
    return counts, slowest, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_api", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="Values per parameter (default: 100).")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    print(machine())
    with tempfile.TemporaryDirectory(prefix="siglip-fuzz-") as tmp:
        index_dir, env = prepare(Path(tmp))
        server = Server(index_dir, env, Path(tmp) / "server.log")
        try:
            client = RawClient(server.url)
            files = upload_files(client, ROOT / "examples" / "cat.jpg")
            for endpoint in ENDPOINTS:
                assert endpoint.answers(client.call(endpoint.api_name, endpoint.good_values(files)))
            pid = server.process.pid
            rss_start = rss_mb(pid)
            failures: list[str] = []
            print(f"\n{args.examples} values per parameter; budget {REQUEST_BUDGET_S:.0f} s per request")
            print(f"  {'parameter':<34} {'sent':>5} {'results':>8} {'errors':>7} {'gradio':>7} {'max s':>6}")
            started = time.perf_counter()
            for endpoint in ENDPOINTS:
                for position, parameter in enumerate(endpoint.parameters):
                    counts, slowest, failed = fuzz_parameter(client, endpoint, position, files, args.examples)
                    failures += failed
                    name = f"/{endpoint.api_name} {parameter.name}"
                    print(
                        f"  {name:<34} {sum(counts.values()):>5} {counts['result']:>8} {counts['error']:>7} "
                        f"{counts['gradio']:>7} {slowest:>6.2f}"
                    )
            seconds = time.perf_counter() - started
            rss_end, peak = rss_mb(pid), peak_mb(pid)
        finally:
            server.close()
    growth = rss_end - rss_start
    print(f"\n{seconds:.0f} s in all. Failures: {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    print(
        f"Server memory (VmRSS): {rss_start:.0f} MiB before, {rss_end:.0f} MiB after ({growth:+.0f} MiB; "
        f"budget {RSS_BUDGET_MB} MiB); peak (VmHWM) {peak:.0f} MiB"
    )
    ok = not failures and growth < RSS_BUDGET_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
