"""A local web server that records every request it gets: for checking that the app downloads nothing
from an address a caller gives (never an outside address)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def recording_server(body: bytes = b"\0" * 1_000_000) -> Iterator[tuple[str, list[str]]]:
    """Serve `body` to any GET on a free localhost port while the block runs.

    Yields:
        (base URL without a trailing slash, the paths requested so far: a list that grows).
    """
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fetched
    finally:
        server.shutdown()
        server.server_close()
