"""Hostile values for every parameter of the public API: `ENDPOINTS` lists each endpoint's parameters
with a good value and a `hypothesis` strategy of bad ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from core.testing.fuzz.client import Outcome

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
        {"path": "http://127.0.0.1:1/x.png", "meta": {"_type": "gradio.FileData"}},
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
    """An endpoint and its parameters. `owned`: its good values act on a collection, which only its
    owner may change, and every raw call is a session of its own without a token; so a clear refusal
    ("is not yours") is the good answer too."""

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
#: The owner or share token of the endpoints that take one (none: the session's own).
TOKEN = Parameter("token", lambda files: "", _any)
#: The parameters every image search shares after its query.
SEARCH = (
    K,
    MODEL,
    Parameter("index", lambda files: "", _any),
    Parameter("min_score", lambda files: -1, _any),
    Parameter("filters", lambda files: [], _any),
    TOKEN,
)


def _text(value: str) -> Parameter:
    return Parameter("text", lambda files: value, _any)


def _weight(name: str) -> Parameter:
    return Parameter(name, lambda files: 1.0, _any)


def _columns(*keys: str) -> tuple[Parameter, ...]:
    """The model pickers of a comparison tab: `<key>_model` (dashes as underscores), default its key."""
    return tuple(
        Parameter(f"{key.replace('-', '_')}_model", lambda files, key=key: key, _any) for key in keys
    )


def _file_lists(files: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    return st.lists(file_values(files), max_size=3) | any_value


def _new_name(files: dict[str, dict[str, Any]]) -> str:
    return f"fuzz-{uuid.uuid4().hex[:10]}"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("draw_search", (Parameter("sketch", _sketch, sketch_values), *SEARCH)),
    Endpoint("text_search", (Parameter("query", lambda files: "a red disc", _any), *SEARCH)),
    Endpoint("image_search", (IMAGE, *SEARCH)),
    Endpoint("compare_clip_siglip", (IMAGE, LABELS, TEMPLATE, TOP_K, *_columns("clip", "siglip", "siglip2"))),
    Endpoint(
        "compare_multilingual",
        (
            IMAGE,
            LABELS,
            Parameter("language", lambda files: "auto", _any),
            TEMPLATE,
            TOP_K,
            *_columns("siglip-multilingual", "siglip2", "nllb-clip", "mclip"),
        ),
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
            Parameter("other_models", lambda files: "", _any),
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
            TOKEN,
        ),
    ),
    Endpoint(
        "create_index",
        (
            Parameter("files", lambda files: [files["photo.jpg"]], _file_lists),
            Parameter("name", _new_name, _any),
            MODEL,
            TOKEN,
        ),
    ),
    Endpoint(
        "add_to_index",
        (
            Parameter("files", lambda files: [files["photo.jpg"]], _file_lists),
            Parameter("name", lambda files: "wikiart", _any),
            TOKEN,
        ),
        owned=True,
    ),
    Endpoint(
        "share_index",
        (
            Parameter("name", lambda files: "wikiart", _any),
            Parameter("visibility", lambda files: "link", _any),
            TOKEN,
        ),
        owned=True,
    ),
    Endpoint("delete_index", (Parameter("name", lambda files: "wikiart", _any), TOKEN), owned=True),
)
