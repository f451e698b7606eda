"""MCP tool calls whose file inputs are web addresses are refused before anything is downloaded.

Gradio's MCP server describes each image or file input of a tool as "a http or https url to a file"
and hands such a URL to the app as a file to download, with no size limit, from any address the
server can reach (the machine's own network included). `McpUrlGuard` looks at every tool call sent to
the MCP endpoint (`/gradio_api/mcp/`) before Gradio reads it: a call whose file input (as Gradio's MCP
server places them) holds an http(s) URL is answered at once with a tool error saying why and what to
send instead, the file's content as a `data:` URI (which the request-size limit bounds). Every other
message passes untouched.
"""

from __future__ import annotations

import json
from typing import Any

from apps.request_limit import ASGIApp, Receive, Scope, Send, read_body, replay

MCP_PATH = "/gradio_api/mcp"
URL_REFUSED = (
    "The tool takes files by their content, not by their web address ({url}): the server does not "
    "download files for a tool call. Send the image as a data URI instead "
    "(data:image/png;base64,..., at most about 1.5 MB), or use the app or gradio_client to upload it."
)


class McpUrlGuard:
    """Answer an MCP `tools/call` with a URL in a file input with a tool error (`URL_REFUSED`); pass
    everything else on untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or MCP_PATH not in scope.get("path", ""):
            await self.app(scope, receive, send)
            return
        messages, body = await read_body(receive)
        refused = _refused_call(scope.get("app"), body)
        if refused is not None:
            await _answer(send, *refused)
            return
        await self.app(scope, replay(messages, receive), send)


def _refused_call(app: Any, body: bytes) -> tuple[Any, str] | None:
    """(JSON-RPC id, message) of a tool call with a URL in a file input, or None."""
    try:
        request = json.loads(body)
        if not isinstance(request, dict) or request.get("method") != "tools/call":
            return None
        name, arguments = request["params"]["name"], request["params"].get("arguments") or {}
        _, positions = app.get_blocks().mcp_server_obj.get_input_schema(name)
    except Exception:  # not a call this can judge (a batch, an unknown tool...): Gradio answers it
        return None
    for argument in {position[0] for position in positions if position}:
        url = _first_url(arguments.get(argument))
        if url is not None:
            return request.get("id"), URL_REFUSED.format(url=url[:80])
    return None


def _first_url(value: Any) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and item.strip().lower().startswith(("http://", "https://")):
            return item.strip()
        if isinstance(item, list):
            stack.extend(item[:64])
        elif isinstance(item, dict):
            stack.extend(list(item.values())[:16])
    return None


async def _answer(send: Send, request_id: Any, message: str) -> None:
    """The JSON-RPC result of a failed tool call, as the streamable HTTP transport may send it."""
    result = {"content": [{"type": "text", "text": message}], "isError": True}
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
