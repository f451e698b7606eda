"""Hostile values for every parameter of the public API, and a client that sends them exactly as given.

`RawClient` speaks Gradio's documented REST protocol (`POST /gradio_api/call/<name>`, then the event
stream of `GET /gradio_api/call/<name>/<event id>`) with the standard library's JSON, so it can send
what `gradio_client` refuses to encode (NaN, infinities, integers beyond float range) and any shape of
value. `ENDPOINTS` lists each endpoint's parameters with a good value and a `hypothesis` strategy of bad
ones. Used by tests/reliability/test_fuzz.py (a bounded run in the suite) and benchmarks/fuzz_api.py
(a longer run).
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st
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


# --------------------------------------------------------------------------------------------------
# Strategies

FORMAT_SPECS = (
    "{}", "{{}}{:>20000000}", "{:>20000000}", "{:^999999999}", "{0}", "{!r}", "{!s:>99}", "{:}",
    "{0.__class__.__mro__}", "{[0]}", "{label}", "{} {}", "{", "}", "{{", "}}", "%s%s%n", "${jndi:x}",
)  # fmt: skip
ODD_STRINGS = (
    "", " ", "\x00", "\x00{}\x00", "\u202e{}", "\ufeff", "a\r\nb", "../../../etc/passwd", "' OR 1=1 --",
    "<script>alert(1)</script>", "🐱" * 50, "猫、犬、車", "قطة، كلب", ",,,,", "，、،",
)  # fmt: skip
#: Just over the text limits, far over them, and over the request-size limit (2 MB).
LONG_LENGTHS = (2_001, 16_001, 300_000, 3_000_000)

long_strings = st.builds(
    lambda piece, length: (piece * length)[:length],
    st.sampled_from(["x", "{}", "a, ", "猫", "\x00", "{:>9}"]),
    st.sampled_from(LONG_LENGTHS),
)
strings = st.one_of(
    st.sampled_from(FORMAT_SPECS),
    st.sampled_from(ODD_STRINGS),
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Lo", "So", "Ps", "Pe"]), max_size=40),
    long_strings,
)
numbers = st.one_of(
    st.sampled_from([0, -1, 1, 48, 49, 10**6, 10**400, -(10**400), 1e308, -1e308, 0.5, 1.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
nested = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["background", "layers", "composite", "path", "url", "meta"]), inner
        )
    ),
    max_leaves=8,
)
#: Anything at all for a parameter: every type JSON can carry.
any_value = st.one_of(scalars, nested)


def file_values(files: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Uploaded bad files, FileData that points where no upload is, and other shapes."""
    not_uploaded = [
        {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
        {"path": "../../../../etc/hostname", "meta": {"_type": "gradio.FileData"}},
        {"url": "http://127.0.0.1:1/x.png", "meta": {"_type": "gradio.FileData"}},
        {"url": "data:image/png;base64,!!!!", "path": None, "meta": {"_type": "gradio.FileData"}},
        {"path": None, "meta": {"_type": "gradio.FileData"}},
    ]
    bad = [value for name, value in files.items() if name not in ("photo.jpg", "classes.zip")]
    return st.one_of(st.sampled_from(bad + not_uploaded), any_value)


def sketch_values(files: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Drawings: editor values whose parts are bad files or any shape, and other shapes."""
    part = st.one_of(st.none(), file_values(files))
    editor = st.fixed_dictionaries(
        {"background": part, "layers": st.lists(part, max_size=3), "composite": part}
    )
    return st.one_of(editor, file_values(files))


@dataclass(frozen=True)
class Parameter:
    name: str
    good: Callable[[dict[str, dict[str, Any]]], Any]
    bad: Callable[[dict[str, dict[str, Any]]], st.SearchStrategy[Any]]


@dataclass(frozen=True)
class Endpoint:
    """An endpoint and its parameters. `owned`: its good values act on a collection, which only the
    browser session that made it may change, and every raw call is a session of its own; so a clear
    refusal ("not created in this browser session") is the good answer too."""

    api_name: str
    parameters: tuple[Parameter, ...]
    owned: bool = False

    def good_values(self, files: dict[str, dict[str, Any]]) -> list[Any]:
        return [parameter.good(files) for parameter in self.parameters]

    def answers(self, outcome: Outcome) -> bool:
        """Whether `outcome` is what the good values should get: a result (or, when `owned`, a clear
        error)."""
        return outcome.kind == "result" or (self.owned and bool(outcome.message))


def _sketch(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"background": None, "layers": [], "composite": files["photo.jpg"]}


def _any(files: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    return any_value


K = Parameter("k", lambda files: 3, _any)
MODEL = Parameter("model", lambda files: "siglip", _any)
IMAGE = Parameter("image", lambda files: files["photo.jpg"], file_values)
LABELS = Parameter("labels", lambda files: "cat, dog", _any)
TEMPLATE = Parameter("template", lambda files: "a photo of {}.", _any)
TOP_K = Parameter("top_k", lambda files: 3, _any)
#: The parameters every image search shares after its query.
SEARCH = (
    K,
    MODEL,
    Parameter("index", lambda files: "", _any),
    Parameter("min_score", lambda files: -1, _any),
    Parameter("filters", lambda files: [], _any),
)


def _text(value: str) -> Parameter:
    return Parameter("text", lambda files: value, _any)


def _weight(name: str) -> Parameter:
    return Parameter(name, lambda files: 1.0, _any)


def _file_lists(files: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    return st.lists(file_values(files), max_size=3) | any_value


def _new_name(files: dict[str, dict[str, Any]]) -> str:
    return f"fuzz-{uuid.uuid4().hex[:10]}"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("draw_search", (Parameter("sketch", _sketch, sketch_values), *SEARCH)),
    Endpoint("text_search", (Parameter("query", lambda files: "a red disc", _any), *SEARCH)),
    Endpoint("image_search", (IMAGE, *SEARCH)),
    Endpoint("compare_clip_siglip", (IMAGE, LABELS, TEMPLATE, TOP_K)),
    Endpoint(
        "compare_multilingual",
        (IMAGE, LABELS, Parameter("language", lambda files: "auto", _any), TEMPLATE, TOP_K),
    ),
    Endpoint(
        "evaluate",
        (
            Parameter("file", lambda files: files["classes.zip"], file_values),
            Parameter("task", lambda files: "zeroshot", _any),
            Parameter("models", lambda files: ["siglip"], _any),
            TEMPLATE,
            Parameter("ensemble", lambda files: False, _any),
            Parameter("language", lambda files: "auto", _any),
        ),
    ),
    Endpoint(
        "combined_search",
        (
            IMAGE,
            _text("a red disc"),
            Parameter("negative", lambda files: "blue", _any),
            _weight("image_weight"),
            _weight("text_weight"),
            _weight("negative_weight"),
            *SEARCH,
        ),
    ),
    Endpoint("similar", (Parameter("item", lambda files: "00-red.png", _any), *SEARCH)),
    Endpoint(
        "compare_search",
        (
            _text("a red disc"),
            Parameter("image", lambda files: None, file_values),
            Parameter("index_a", lambda files: "wikiart", _any),
            Parameter("index_b", lambda files: "wikiart", _any),
            K,
        ),
    ),
    Endpoint(
        "create_index",
        (
            Parameter("files", lambda files: [files["photo.jpg"]], _file_lists),
            Parameter("name", _new_name, _any),
            MODEL,
        ),
    ),
    Endpoint(
        "add_to_index",
        (
            Parameter("files", lambda files: [files["photo.jpg"]], _file_lists),
            Parameter("name", lambda files: "wikiart", _any),
        ),
        owned=True,
    ),
    Endpoint("delete_index", (Parameter("name", lambda files: "wikiart", _any),), owned=True),
)


def names_foreign_file(value: Any, uploaded: set[str]) -> bool:
    """Whether `value` holds what Gradio takes for a file but is not one of the `uploaded` files.

    Gradio looks through every payload for dicts with a string `path` and a `meta`, and refuses them
    with its generic error before any app code runs: a FileData naming a path nobody uploaded, and
    (a Gradio bug: it calls `meta.get`) any such dict whose `meta` is not a dict.
    """
    if isinstance(value, list):
        return any(names_foreign_file(item, uploaded) for item in value)
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("path"), str) and "meta" in value:
        meta = value["meta"]
        if not isinstance(meta, dict):
            return True
        if meta.get("_type") == "gradio.FileData":
            return value["path"] not in uploaded
    return any(names_foreign_file(item, uploaded) for item in value.values())


def check_outcome(outcome: Outcome, what: str, foreign_file: bool = False) -> None:
    """A result, or an error with a message of its own (not Gradio's generic one), within the budget.

    A `foreign_file` (see `names_foreign_file`) must be refused, with whatever message.
    """
    assert outcome.seconds < REQUEST_BUDGET_S, f"{what}: {outcome.seconds:.1f} s"
    if foreign_file:
        assert outcome.kind == "error", f"{what}: a file nobody uploaded was accepted"
        return
    if outcome.kind == "error":
        assert outcome.message not in (GENERIC_ERROR, ""), f"{what}: an error without a message"
        message = outcome.message
        assert len(message) < 1_000 and "Traceback" not in message, f"{what}: {message[:1_000]}"
