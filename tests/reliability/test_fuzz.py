"""Fuzz of the public API and the CLI: hostile values for every parameter, each answered with a result
or a clear message, within the request budget, with the server alive and its memory bounded.

Each (endpoint, parameter) pair gets `FUZZ_EXAMPLES` values from `hypothesis` (derandomized: the same
values on every run) while the other parameters keep good values. `python -m benchmarks.fuzz_api` runs
the same test with many more values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as cli
from apps import examples
from benchmarks.load_test import Server, prepare
from core.limits import quote
from core.testing.fuzz import (
    ENDPOINTS,
    RSS_BUDGET_MB,
    Endpoint,
    Parameter,
    RawClient,
    any_value,
    check_outcome,
    names_foreign_file,
    rss_mb,
    strings,
    upload_files,
)
from tests.core.evaluation.conftest import write_caption_folder, write_class_folder

#: Values per parameter (the benchmark raises it through this variable).
FUZZ_EXAMPLES = int(os.environ.get("SIGLIP_PROJECTS_FUZZ_EXAMPLES", "3"))
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Fuzz:
    client: RawClient
    files: dict[str, dict[str, Any]]
    server: Server
    rss_start: float

    @property
    def uploaded(self) -> set[str]:
        return {file["path"] for file in self.files.values()}

    def growth(self) -> float:
        return rss_mb(self.server.process.pid) - self.rss_start


@pytest.fixture(scope="module")
def fuzz(tiny_models, tmp_path_factory) -> Iterator[Fuzz]:
    """The app served from its own process (so that its memory is the server's alone, not the test's
    too), a raw client with the files uploaded, and the server's memory once every model answered."""
    environ = dict(os.environ)
    workdir = tmp_path_factory.mktemp("fuzz-server")
    index_dir, env = prepare(workdir, tiny_models)
    server = Server(index_dir, env, workdir / "server.log")
    try:
        client = RawClient(server.url)
        files = upload_files(client, examples.photo("cat.jpg"))
        for endpoint in ENDPOINTS:  # load every model first: loading is not what this measures
            outcome = client.call(endpoint.api_name, endpoint.good_values(files))
            assert endpoint.answers(outcome), (endpoint.api_name, outcome.message)
        yield Fuzz(client, files, server, rss_mb(server.process.pid))
    finally:
        server.close()
        for key in env:  # what prepare() set for its own build; other fixtures' settings stay
            if key.startswith("SIGLIP_PROJECTS_") and environ.get(key) != env[key]:
                if key in environ:
                    os.environ[key] = environ[key]
                else:
                    os.environ.pop(key, None)


CASES = [(endpoint, position) for endpoint in ENDPOINTS for position in range(len(endpoint.parameters))]


@pytest.mark.parametrize(
    ("endpoint", "position"),
    CASES,
    ids=[f"{endpoint.api_name}-{endpoint.parameters[n].name}" for endpoint, n in CASES],
)
def test_hostile_values_get_a_result_or_a_clear_error(fuzz, endpoint: Endpoint, position: int):
    parameter: Parameter = endpoint.parameters[position]

    @FUZZ_SETTINGS
    @given(value=parameter.bad(fuzz.files))
    def send(value: Any) -> None:
        data = endpoint.good_values(fuzz.files)
        data[position] = value
        outcome = fuzz.client.call(endpoint.api_name, data)
        foreign = names_foreign_file(value, fuzz.uploaded)
        check_outcome(outcome, f"/{endpoint.api_name} {parameter.name}={quote(value)}", foreign)
        growth = fuzz.growth()
        assert growth < RSS_BUDGET_MB, f"resident memory grew by {growth:.0f} MB"

    send()
    alive = fuzz.client.call(endpoint.api_name, endpoint.good_values(fuzz.files))
    assert endpoint.answers(alive), alive.message


#: Values the fuzz once found answered with Gradio's bare "Error" (kept here: the suite sends only a
#: few generated values per parameter).
FOUND = [
    ("evaluate", "models", None),
    ("compare_search", "index_a", None),
    ("compare_search", "index_b", None),
    ("create_index", "files", False),
    ("add_to_index", "files", False),
    ("evaluate", "file", 0),
]


@pytest.mark.parametrize(("api_name", "name", "value"), FOUND, ids=[f"{a}-{n}" for a, n, _ in FOUND])
def test_values_the_fuzz_found_get_a_clear_error(fuzz, api_name: str, name: str, value: Any):
    endpoint = next(endpoint for endpoint in ENDPOINTS if endpoint.api_name == api_name)
    data = endpoint.good_values(fuzz.files)
    data[[parameter.name for parameter in endpoint.parameters].index(name)] = value
    outcome = fuzz.client.call(api_name, data)
    check_outcome(outcome, f"/{api_name} {name}={value!r}")
    assert outcome.kind == "error" or endpoint.owned


# --------------------------------------------------------------------------------------------------
# The command line

#: An evaluation of the small class folder with one model, to which a place adds one option.
EVAL = ["eval", "zeroshot", "--folder", "{classes}", "--models", "siglip"]
RETRIEVAL = ["eval", "retrieval", "--folder", "{captions}", "--models", "siglip"]
DATASET_EVAL = ["eval", "zeroshot", "--dataset", "{classes}", "--label-column", "label", "--models", "siglip"]
#: Where each generated value goes in an `index` or `eval` command line.
CLI_PLACES = {
    "search-name": lambda v: ["index", "search", v, "--text", "a red disc"],
    "search-text": lambda v: ["index", "search", "wikiart", "--text", v],
    "search-k": lambda v: ["index", "search", "wikiart", "--text", "a red disc", "-k", v],
    "search-language": lambda v: ["index", "search", "wikiart", "--text", "a", "--language", v],
    "search-image": lambda v: ["index", "search", "wikiart", "--image", v],
    "info-name": lambda v: ["index", "info", v],
    "build-name": lambda v: ["index", "build", v, "--texts", "{texts}"],
    "build-texts": lambda v: ["index", "build", "fuzz-texts", "--texts", v],
    "build-column": lambda v: ["index", "build", "fuzz-csv", "--texts", "{csv}", "--text-column", v],
    "build-limit": lambda v: ["index", "build", "fuzz-folder", "--dataset", "{folder}", "--limit", v],
    "build-exact": lambda v: ["index", "build", "fuzz-th", "--texts", "{texts}", "--exact-threshold", v],
    "build-model-key": lambda v: ["index", "build", "fuzz-key", "--texts", "{texts}", "--model-key", v],
    "build-language": lambda v: ["index", "build", "fuzz-lang", "--texts", "{texts}", "--language", v],
    "global-model": lambda v: ["--model", v, "index", "info"],
    "eval-folder": lambda v: ["eval", "zeroshot", "--folder", v, "--models", "siglip"],
    "eval-models": lambda v: ["eval", "zeroshot", "--folder", "{classes}", "--models", v],
    "eval-template": lambda v: [*EVAL, "--template", v],
    "eval-templates": lambda v: [*EVAL, "--templates", v],
    "eval-classnames": lambda v: [*EVAL, "--classnames", v],
    "eval-language": lambda v: [*EVAL, "--language", v],
    "eval-batch-size": lambda v: [*EVAL, "--batch-size", v],
    "eval-caption-column": lambda v: [*RETRIEVAL, "--caption-column", v],
    "eval-limit": lambda v: [*DATASET_EVAL, "--limit", v],
}
cli_values = st.one_of(
    strings.filter(lambda value: "\x00" not in value),  # argv cannot carry NUL
    st.sampled_from(["-1", "0", "nan", "1e309", "99999999999999999999", "--rebuild", "-k", "../..", "/"]),
    any_value.map(str).filter(lambda value: "\x00" not in value and len(value) < 100_000),
)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli-fuzz")
    (folder / "texts.txt").write_text("a red disc\na blue moon\n", encoding="utf-8")
    (folder / "table.csv").write_text("caption,n\na red disc,1\n", encoding="utf-8")
    classes = write_class_folder(folder / "classes", classes=("cat", "dog"), per_class=2)
    captions = write_caption_folder(folder / "captions", count=3)
    return {
        "texts": str(folder / "texts.txt"),
        "csv": str(folder / "table.csv"),
        "folder": str(folder),
        "classes": str(classes),
        "captions": str(captions),
    }


@pytest.mark.parametrize("place", list(CLI_PLACES))
def test_cli_arguments_get_a_result_or_one_error_line(app, cli_files, tmp_path, capsys, place):
    index_dir = tmp_path / "indexes"
    import shutil

    shutil.copytree(app.settings.index_dir, index_dir)

    @FUZZ_SETTINGS
    @given(value=cli_values)
    def run(value: str) -> None:
        argv = [
            cli_files.get(arg.strip("{}"), arg) if arg != value else arg for arg in CLI_PLACES[place](value)
        ]
        try:
            code = cli.main(["--index-dir", str(index_dir), *argv])
        except SystemExit as exit_:  # argparse refuses a flag's value itself: usage and exit 2
            code = exit_.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "Traceback" not in out, err
        assert code in (0, 2), f"exit {code} for {quote(value)}: {err[-500:]}"
        if code == 2:
            errors = [line for line in err.splitlines() if line.startswith(("error:", "app.py"))]
            assert errors, f"no error line for {quote(value)}: {err[-500:]}"
            assert all(len(line) < 1_000 for line in err.splitlines()), "an error line echoes the input"

    run()
