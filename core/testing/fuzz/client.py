"""A client that sends values exactly as given: Gradio's documented REST protocol (`POST
/gradio_api/call/<name>`, then the event stream of `GET /gradio_api/call/<name>/<event id>`) with the
standard library's JSON, so it can send what `gradio_client` refuses to encode (NaN, infinities,
integers beyond float range) and any shape of value; the budgets one request must keep.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

#: Gradio's generic answer when a handler raised something other than gr.Error: not a clear message.
GENERIC_ERROR = None
#: Longest a request of the fuzz may take (the per-request budget of the README).
REQUEST_BUDGET_S = 5.0
#: Largest growth of the server's resident memory over a fuzz run.
RSS_BUDGET_MB = 200


@dataclass(frozen=True)
class Outcome:
    """What one request came back with: `result` (the final data), or `error` with its message."""

    kind: str  # "result" | "error"
    data: Any
    message: str | None
    seconds: float


class RawClient:
    """Calls the app's named endpoints over HTTP with exactly the JSON values it is given."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def upload(self, name: str, content: bytes) -> dict[str, Any]:
        """Upload a file; return the FileData value that refers to it."""
        response = self.http.post(f"{self.url}/gradio_api/upload", files={"files": (name, content)})
        response.raise_for_status()
        (path,) = response.json()
        return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list[Any]) -> Outcome:
        """Send one request and wait for its last event.

        Raises:
            AssertionError: the server did not accept the request or closed the stream without an answer.
        """
        return self.send(api_name, json.dumps({"data": data}, allow_nan=True).encode())

    def send(self, api_name: str, body: bytes) -> Outcome:
        """`call` with the request body already encoded (`{"data": [...]}` as JSON)."""
        started = time.perf_counter()
        response = self.http.post(
            f"{self.url}/gradio_api/call/{api_name}",
            content=body,
            headers={"content-type": "application/json"},
        )
        if response.status_code == 413:  # refused before it was read (apps.request_limit)
            detail = response.json()["detail"]
            return Outcome("error", detail, detail, time.perf_counter() - started)
        if response.status_code == 422:  # refused before the queue (apps.fairness), Gradio's way
            messages = [item.get("message", "") for item in response.json().get("detail", [])]
            message = " ".join(str(text) for text in messages) or response.text[:300]
            return Outcome("error", response.json(), message, time.perf_counter() - started)
        assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
        event_id = response.json()["event_id"]
        event = data_line = None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data_line = line.removeprefix("data:").strip()
                    break
        seconds = time.perf_counter() - started
        assert event in ("complete", "error") and data_line is not None, f"no answer (last event {event})"
        value = json.loads(data_line)
        if event == "complete":
            return Outcome("result", value, None, seconds)
        message = value.get("error") if isinstance(value, dict) else value
        return Outcome("error", value, message, seconds)


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# --------------------------------------------------------------------------------------------------
# Files


def upload_files(client: RawClient, photo: str | Path) -> dict[str, dict[str, Any]]:
    """Upload the good picture and every kind of bad file once; return their FileData by name."""

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    jpeg = Path(photo).read_bytes()
    classes = zip_of({f"{name}/{n}.jpg": jpeg for name in ("cat", "dog") for n in range(2)})
    contents = {
        "classes.zip": classes,
        "traversal.zip": zip_of({"cat/1.jpg": jpeg, "../../escape/2.jpg": jpeg, "dog/1.jpg": jpeg}),
        "not-a-zip.zip": b"PK\x03\x04 but nothing after",
        "photo.jpg": jpeg,
        "empty.png": b"",
        "not-an-image.png": b"%PDF-1.4 not a picture at all",
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "bomb.png": png(Image.new("1", (20_000, 20_000))),
        "one-pixel.png": png(Image.new("RGB", (1, 1), "red")),
        "wide.png": png(Image.new("L", (8_000, 2), 0)),
        "html.svg": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    }
    return {name: client.upload(name, content) for name, content in contents.items()}


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A zip holding `entries` (name -> content), names written as given (`../` included)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()
