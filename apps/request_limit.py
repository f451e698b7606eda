"""An ASGI middleware that refuses request bodies over a size limit before they are read.

Gradio reads and parses a whole JSON request before any check of ours runs, so without a limit one
request could make the server hold gigabytes. Uploads (`/gradio_api/upload`) are exempt: Gradio streams
them to disk and refuses files over `max_file_size` itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/gradio_api/upload"


async def read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """The messages of a request's body and the body they carry (bounded when `RequestBodyLimit` runs
    first); hand the messages on to the app with `replay`."""
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages, body


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` again, then the rest of the connection's."""

    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


class RequestBodyLimit:
    """Answer 413 to any request (uploads aside) whose body is over `limit` bytes.

    A declared `Content-Length` over the limit is refused before a byte is read; a body sent without
    one (chunked) is cut off as a disconnect once it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith(UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send, declared.decode("latin-1"))
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, send: Send, declared: str) -> None:
        size = f"{int(declared):,} bytes" if declared.isdigit() else f"of length {declared[:20]!r}"
        detail = (
            f"The request is {size}, over the limit of {self.limit:,} bytes. Texts are limited to a few "
            "thousand characters; upload images as files (gradio_client: handle_file(path))."
        )
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
