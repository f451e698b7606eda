"""A fair queue: no session fills the queue, and long jobs wait one per session.

Gradio's queue holds `MAX_QUEUE` events for everyone together, so one client submitting events in a
loop could fill it and every other visitor would be told the queue is full. `FairQueue` therefore
looks at every request to join the queue before Gradio reads it: a session may have at most
`MAX_WAITING_PER_SESSION` events waiting or running, and at most one evaluation and one collection
build (`ONE_AT_A_TIME`). A refused event never enters the queue, and costs the server one small JSON
parse; its caller gets HTTP 422 with a message saying why and when to retry, the form Gradio uses for
its own validation errors (the app shows it; `gradio_client` raises `ValidationError` with it).
Searches have their own concurrency group (`apps.common.MODEL_CONCURRENCY_ID`), so they never wait
behind evaluations (`apps.evaluate.EVALUATE_CONCURRENCY_ID`) or builds (`collections`).

The same look (also at `/gradio_api/call/` and at the events that skip the queue, `/gradio_api/run/`)
refuses file inputs given as a web address (a FileData whose `path` is an http(s) URL),
which Gradio would download before any check of the app, with no size limit: files come uploaded
(`gradio_client`'s `handle_file` of a local file, the browser), held to the upload limits.
"""

from __future__ import annotations

import json
from typing import Any

from apps.request_limit import ASGIApp, Receive, Scope, Send, read_body, replay

#: Events one session may have waiting or running at once.
MAX_WAITING_PER_SESSION = 8
#: Long jobs, by kind: one of each kind per session at a time.
ONE_AT_A_TIME = {"evaluate": "an evaluation", "create_index": "a build", "add_to_index": "a build"}
JOIN_PATH = "/gradio_api/queue/join"
#: Where else a request carries inputs: the REST API and the browser's events that skip the queue.
DATA_PATHS = ("/gradio_api/call/", "/gradio_api/run/")
URL_REFUSED = (
    "Files are taken uploaded, not by their web address ({url}): the server would download it with no "
    "size limit. Download it and upload the file (gradio_client: handle_file(local_path))."
)


def refusal(api_name: str | None, pending: list[str | None]) -> str | None:
    """Why an event `api_name` may not join the queue beside its session's `pending` ones, or None."""
    kind = ONE_AT_A_TIME.get(api_name or "")
    if kind is not None and kind in {ONE_AT_A_TIME.get(other or "") for other in pending}:
        return (
            f"This session has {kind} waiting or running already: one at a time per visitor. Try again "
            "when it is done."
        )
    if len(pending) >= MAX_WAITING_PER_SESSION:
        return (
            f"This session has {len(pending)} requests waiting or running, the most one visitor may have "
            "at once. Try again when some are done (usually a few seconds)."
        )
    return None


class FairQueue:
    """Refuse a request to join the queue (HTTP 422, with `refusal`'s message) when its session may
    not add that event now; pass everything else on untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        joins = path.endswith(JOIN_PATH)
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not (joins or any(p in path for p in DATA_PATHS))
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await read_body(receive)  # small: apps.request_limit refused it otherwise
        reason = _url_input(body) or (_refusal_of(scope.get("app"), body) if joins else None)
        if reason is not None:
            await _refuse(send, reason)
            return
        await self.app(scope, replay(messages, receive), send)


def _url_input(body: bytes) -> str | None:
    """The refusal of a request whose data holds a file given by its web address, or None."""
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value[:64])
        elif isinstance(value, dict):
            path = value.get("path")
            if isinstance(path, str) and path.lower().startswith(("http://", "https://")):
                return URL_REFUSED.format(url=path[:80])
            stack.extend(list(value.values())[:16])
    return None


def _refusal_of(app: Any, body: bytes) -> str | None:
    try:
        request = json.loads(body)
        session, fn_index = request.get("session_hash"), request.get("fn_index")
        blocks = app.get_blocks()
        fn = blocks.fns[fn_index]
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None  # not ours to judge: Gradio answers it
    if not session:
        return None
    queue = blocks._queue
    events = [
        queue.event_ids_to_events.get(i) for i in list(queue.pending_event_ids_session.get(session, ()))
    ]
    return refusal(fn.api_name, [event.fn.api_name for event in events if event is not None])


async def _refuse(send: Send, reason: str) -> None:
    detail = [{"__type__": "validate", "is_valid": False, "message": reason, "parameter_name": "request"}]
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
