"""Hostile input of the size kind: the reported cases, the request-size limit, and what sessions keep.

The cases reported in issue 13, through `gradio_client` as a user would send them: a template with a
20,000,000-wide format spec (answered after 121 s at 10.6 GB resident before), a 20 MB query (19 s), a
1 MB model name (echoed whole). Each is refused in well under a second with a clear message, and the
server's resident memory does not move.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import re
import socket
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from apps import MAX_REQUEST_BYTES, MAX_SESSIONS
from apps.components import MAX_DATA_URL_CHARS
from apps.examples import photo
from core.testing.fuzz import RawClient, rss_mb
from core.zeroshot import TEMPLATE_RULE

#: The optional parameters of the search endpoints after k and the model: index, min_score, filters.
SEARCH_REST = ("", -1, [], "")  # index, min_score, filters, token

TEMPLATE = "{{}}{:>20000000}"
QUERY = "x" * 20_000_000
MODEL = "m" * 1_000_000


@pytest.fixture(scope="module")
def raw(served_app) -> RawClient:
    return RawClient(served_app.url)


@pytest.fixture
def warm(client, assert_serving) -> None:
    """The client's first request opens its event stream (about 2 s): not part of what is timed."""
    assert_serving()


def refused_in(seconds: float, call, *errors: type[Exception]) -> Exception:
    started = time.perf_counter()
    with pytest.raises(errors) as refused:
        call()
    assert time.perf_counter() - started < seconds
    return refused.value


def test_the_20_mb_template_width_is_refused_at_once_with_what_is_allowed(app, client, warm, assert_serving):
    image = handle_file(photo("cat.jpg"))
    for endpoint in ("/compare_clip_siglip", "/compare_multilingual"):
        call = lambda name=endpoint: client.predict(image, "cat, dog", template=TEMPLATE, api_name=name)  # noqa: E731
        error = refused_in(1.0, call, AppError)
        assert f"The template '{TEMPLATE}' has a brace that is neither" in str(error)
        assert TEMPLATE_RULE in str(error)
    assert_serving()


def test_a_20_mb_query_is_refused_before_the_server_reads_it(app, client, raw, warm, assert_serving):
    error = refused_in(1.0, lambda: client.predict(QUERY, api_name="/text_search"), httpx.HTTPStatusError)
    assert error.response.status_code == 413
    detail = error.response.json()["detail"]
    assert re.match(r"The request is 20,000,\d{3} bytes", detail) is not None
    assert f"over the limit of {MAX_REQUEST_BYTES:,}" in detail
    assert len(detail) < 300
    outcome = raw.call("text_search", [QUERY, 3, "siglip", *SEARCH_REST])  # the same through the REST API
    assert outcome.kind == "error" and re.match(
        r"The request is 20,000,\d{3} bytes, over the limit", outcome.message
    )
    assert_serving()


def test_a_1_mb_model_name_is_refused_with_a_short_prefix_of_it(app, client, warm, assert_serving):
    call = lambda: client.predict("a red disc", model=MODEL, api_name="/text_search")  # noqa: E731
    message = str(refused_in(1.0, call, AppError))
    assert message.startswith(f"Unknown model '{'m' * 40}…' (1,000,000 characters). Known models: siglip")
    assert len(message) < 400 and message.endswith("open_clip:NAME@TAG).")  # every key, then references
    assert_serving()


def test_the_reported_cases_leave_the_servers_memory_where_it_was(app, raw):
    """Bodies built before the first measurement, so that only the server's side is measured."""
    image = raw.upload("cat.jpg", Path(photo("cat.jpg")).read_bytes())
    cases = [
        ("compare_clip_siglip", [image, "cat, dog", TEMPLATE, 3]),
        ("compare_multilingual", [image, "cat, dog", "auto", TEMPLATE, 3]),
        ("text_search", [QUERY, 3, "siglip", *SEARCH_REST]),
        ("text_search", ["a red disc", 3, MODEL, *SEARCH_REST]),
    ]
    bodies = [(name, json.dumps({"data": data}).encode()) for name, data in cases]
    for name, data in cases[:2]:  # the models behind the endpoints are loaded: not what this measures
        raw.call(name, [*data[:2], *(["auto"] if len(data) == 5 else []), "{}", 3])
    gc.collect()
    before = rss_mb()
    for _ in range(3):
        for name, body in bodies:
            assert raw.send(name, body).kind == "error"
    gc.collect()
    assert rss_mb() - before < 20, f"resident memory grew by {rss_mb() - before:.0f} MB"


# --------------------------------------------------------------------------------------------------
# The request-size limit


def raw_request(app, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes as they are; return the answer (head and body) or what came before the server closed."""
    url = urllib.parse.urlsplit(app.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            header, _, content = answer.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", header, re.IGNORECASE)
            if length and len(content) >= int(length[1]):
                break
        return answer


def test_a_declared_body_over_the_limit_is_answered_before_it_is_sent(app, assert_serving):
    head = (
        b"POST /gradio_api/call/text_search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000000\r\n\r\n"
    )
    started = time.perf_counter()
    answer = raw_request(app, head)  # not a byte of the 100 GB body sent
    assert time.perf_counter() - started < 1
    assert answer.startswith(b"HTTP/1.1 413") and b"over the limit of 2,097,152 bytes" in answer
    assert_serving()


def test_a_chunked_body_over_the_limit_is_cut_off(app, assert_serving):
    chunk = b"x" * 65536
    head = (
        b"POST /gradio_api/call/text_search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    body = (b"10000\r\n" + chunk + b"\r\n") * (MAX_REQUEST_BYTES // len(chunk) + 2)
    try:
        answer = raw_request(app, head, body)
    except OSError:  # the server may close the connection while the body is still being sent
        answer = b""
    assert b"event_id" not in answer
    assert_serving()


def test_images_larger_than_the_request_limit_still_upload_and_search(app, client):
    big = Image.effect_noise((1400, 1000), 80).convert("RGB")
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    assert len(buffer.getvalue()) > MAX_REQUEST_BYTES
    path = app.settings.index_dir.parent / "big-noise.png"
    path.write_bytes(buffer.getvalue())
    gallery, status = client.predict(handle_file(str(path)), k=2, api_name="/image_search")
    assert len(gallery) == 2 and "2 nearest to your picture" in status


def test_inline_images_are_accepted_up_to_their_limit(app, raw):
    small = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(small, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(small.getvalue()).decode()
    image = {"path": None, "url": url, "meta": {"_type": "gradio.FileData"}}
    assert raw.call("image_search", [image, 2, "siglip", *SEARCH_REST]).kind == "result"
    image["url"] = "data:image/png;base64," + "A" * MAX_DATA_URL_CHARS
    outcome = raw.call("image_search", [image, 2, "siglip", *SEARCH_REST])
    assert outcome.kind == "error" and "Upload it as a file instead" in outcome.message


# --------------------------------------------------------------------------------------------------
# What sessions keep


def kept_lengths(app) -> list[int]:
    """Lengths of the text values Gradio keeps with the sessions (the last value of each input)."""
    return [
        len(config["props"]["value"])
        for session in app.demo.state_holder.session_data.values()
        for config in session.config_values.values()
        if isinstance(config.get("props", {}).get("value"), str)
    ]


def test_a_refused_payload_is_not_kept_with_its_session(app, raw):
    """Gradio keeps every input's last value with its session (up to `MAX_SESSIONS` of them); the
    checks run before that, so a refused value is never kept. The control: a valid one is."""
    refused, valid = "q" * 1_500_001, "v" * 1_901  # under the request-size limit; over, under 2,000
    outcome = raw.call("text_search", [refused, 3, "siglip", *SEARCH_REST])
    assert outcome.kind == "error" and "The query is 1,500,001 characters long" in outcome.message
    assert len(refused) not in kept_lengths(app)
    assert raw.call("text_search", [valid, 3, "siglip", *SEARCH_REST]).kind == "result"
    assert len(valid) in kept_lengths(app)


def test_the_number_of_sessions_kept_is_bounded(app):
    assert app.demo.state_session_capacity == MAX_SESSIONS
