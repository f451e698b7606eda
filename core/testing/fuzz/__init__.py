"""Hostile values for every parameter of the public API, and a client that sends them exactly as given.

`RawClient` speaks Gradio's documented REST protocol (`POST /gradio_api/call/<name>`, then the event
stream of `GET /gradio_api/call/<name>/<event id>`) with the standard library's JSON, so it can send
what `gradio_client` refuses to encode (NaN, infinities, integers beyond float range) and any shape of
value. `ENDPOINTS` lists each endpoint's parameters with a good value and a `hypothesis` strategy of bad
ones. Used by tests/reliability/test_fuzz.py (a bounded run in the suite) and benchmarks/fuzz_api.py
(a longer run).

    client      RawClient, Outcome, upload_files, zip_of, rss_mb; the budgets of one request
    strategies  the hostile values (hypothesis) and ENDPOINTS, each parameter with a good value
    checks      names_foreign_file, check_outcome
"""

from core.testing.fuzz.checks import check_outcome, names_foreign_file
from core.testing.fuzz.client import (
    GENERIC_ERROR,
    REQUEST_BUDGET_S,
    RSS_BUDGET_MB,
    Outcome,
    RawClient,
    rss_mb,
    upload_files,
    zip_of,
)
from core.testing.fuzz.strategies import ENDPOINTS, Endpoint, Parameter, any_value, strings

__all__ = [
    "ENDPOINTS",
    "GENERIC_ERROR",
    "REQUEST_BUDGET_S",
    "RSS_BUDGET_MB",
    "Endpoint",
    "Outcome",
    "Parameter",
    "RawClient",
    "any_value",
    "check_outcome",
    "names_foreign_file",
    "rss_mb",
    "strings",
    "upload_files",
    "zip_of",
]
