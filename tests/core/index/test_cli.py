"""`python app.py index build|search|info`, run in-process through app.main."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import app
from tests.core.index.conftest import IMAGE_COUNT


@pytest.fixture
def run(settings, capsys):
    """Run app.main with the test's index folder; return (exit code, stdout, stderr)."""

    def run_app(*argv: str) -> tuple[int, str, str]:
        code = app.main(["--index-dir", str(settings.index_dir), "--batch-size", "4", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run_app


@pytest.mark.parametrize("command", ["build", "search", "info", "push", "pull"])
def test_help_shows_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        app.main(["index", command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"python app.py index {command}" in out


def test_build_search_info(run, image_folder, tmp_path):
    (image_folder / "broken.jpg").write_bytes(b"nope")
    code, out, err = run("index", "build", "photos", "--folder", str(image_folder))
    assert code == 0, err
    assert f"items:   {IMAGE_COUNT} (added {IMAGE_COUNT}" in out
    assert "skipped: 1" in out and "broken.jpg" in out and "img/s" in out and "on disk" in out
    assert "img/s" in err  # the tqdm bar

    code, out, _ = run("index", "search", "photos", "--text", "a red square", "-k", "3")
    assert code == 0 and out.count("thumbnails/") == 3

    code, out, _ = run(
        "index", "search", "photos", "--image", str(next(image_folder.glob("*.png"))), "--json"
    )
    hits = json.loads(out)
    assert code == 0 and len(hits) == 10 and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)

    texts = tmp_path / "texts.txt"
    texts.write_text("a cat\na dog\n")
    assert run("index", "build", "texts", "--texts", str(texts))[0] == 0
    code, out, _ = run("index", "search", "texts", "--text", "a cat", "-k", "1")
    assert code == 0 and "a cat" in out

    code, out, _ = run("index", "info")
    assert code == 0 and "photos" in out and "texts" in out
    code, out, _ = run("index", "info", "photos", "--verify")
    assert code == 0 and "files and thumbnails verified" in out
    code, out, _ = run("index", "info", "photos", "--json")
    assert json.loads(out)["count"] == IMAGE_COUNT


def test_user_errors_exit_2_with_a_message(run, image_folder):
    code, _, err = run("index", "search", "missing", "--text", "x")
    assert code == 2 and "error: No index named 'missing'" in err and "index build missing" in err
    code, _, err = run("index", "build", "photos", "--folder", str(image_folder), "--limit", "3")
    assert code == 2 and "--limit cannot be used with --folder" in err


def test_combined_search_filters_and_weights_match_the_core(run, settings, image_folder):
    from core.index import QueryPart, combine_parts, load_index, search

    assert run("index", "build", "photos", "--folder", str(image_folder))[0] == 0
    picture = next(image_folder.glob("*.png"))
    code, out, err = run(
        "index", "search", "photos", "--text", "a red square", "--image", str(picture), "--negative", "blue",
        "--weights", "0.5,0.5", "--where", "path=" + picture.name, "--where", "path=image003.bmp", "--json",
    )  # fmt: skip
    assert code == 0, err
    index = load_index("photos", settings=settings)
    parts = [QueryPart("a red square", 0.5), QueryPart(picture, 0.5), QueryPart("blue", 1.0, negative=True)]
    expected = search(
        index,
        combine_parts(index, parts, settings=settings),
        10,
        where={"path": {picture.name, "image003.bmp"}},
    )
    assert [hit["key"] for hit in json.loads(out)] == [hit.key for hit in expected] and len(expected) == 2

    code, out, _ = run("index", "search", "photos", "--text", "a cat", "--min-score", "0.99", "-k", "3")
    assert code == 0 and "No item passes the filters." in out
    for argv, message in (
        (["--text", "a", "--weights", "1,2"], "2 weights given for 1 query parts"),
        (["--text", "a", "--negative", "a"], "cancel each other out"),
        (["--negative", "people"], "Give --text, --image or both"),
        (["--text", "a", "--where", "style"], "is not column=value"),
        (["--text", "a", "--min-score", "3"], "minimum score must be a number from -1 to 1"),
    ):
        code, _, err = run("index", "search", "photos", *argv)
        assert code == 2 and message in err, (argv, err)


def test_delete_and_pull(run, settings, image_folder, tmp_path):
    from core.index import IndexStore
    from core.index.service.hub import stage_for_push

    assert run("index", "build", "photos", "--folder", str(image_folder))[0] == 0
    stage_for_push(IndexStore.named("photos", settings), tmp_path / "snapshot")
    code, out, err = run("index", "pull", str(tmp_path / "snapshot"), "copy")
    assert code == 0, err
    assert f"Installed index 'copy' ({IMAGE_COUNT} images, model siglip); every file verified." in out
    code, _, err = run("index", "pull", str(tmp_path / "snapshot"), "copy")
    assert code == 2 and "already exists" in err and "--replace" in err
    assert run("index", "pull", str(tmp_path / "snapshot"), "copy", "--replace")[0] == 0
    code, out, _ = run("index", "delete", "copy", "--yes")
    assert code == 0 and "Deleted index 'copy'." in out and not (settings.index_dir / "copy").exists()
    code, _, err = run("index", "delete", "copy", "--yes")
    assert code == 2 and "No index named 'copy'" in err
    code, _, err = run("index", "push", "photos", "not a repo")
    assert code == 2 and "is not a dataset repo id" in err


def _build_in_a_child(tmp_path, image_folder, *flags: str, script: str = "") -> subprocess.CompletedProcess:
    """`index build photos` in a new process (no Ray instance connected yet), after `script`."""
    code = script + "import sys, app; sys.exit(app.main(sys.argv[1:]))"
    folder = ["--folder", str(image_folder)]
    argv = ["--index-dir", str(tmp_path / "indexes"), "index", "build", "photos", *folder, *flags]
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_engine_ray_without_ray_is_one_line_with_the_install_command(image_folder, tmp_path):
    no_ray = "import sys; sys.modules['ray'] = None; "  # `import ray` fails, as where it is not installed
    result = _build_in_a_child(tmp_path, image_folder, "--engine", "ray", script=no_ray)
    assert "pip install -r requirements-ray.txt" in _one_error_line(result)
    assert not (tmp_path / "indexes" / "photos").exists()  # refused before anything was written


def test_a_ray_address_where_nothing_answers_is_one_line_in_seconds(image_folder, tmp_path):
    pytest.importorskip("ray")
    result = _build_in_a_child(tmp_path, image_folder, "--engine", "ray", "--ray-address", "127.0.0.1:9")
    line = _one_error_line(result)
    assert "Nothing answers at the Ray address 127.0.0.1:9" in line and "ray start --head" in line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray-address", "10.0.0.1:6379"], "need --engine ray"),
        (["--ray-actors", "2"], "need --engine ray"),
        (["--engine", "ray", "--ray-actors", "0"], "ray_actors must be at least 1"),
    ],
)
def test_ray_flags_that_cannot_work_are_refused(run, image_folder, flags, message):
    code, _, err = run("index", "build", "photos", "--folder", str(image_folder), *flags)
    assert code == 2 and message in err


@pytest.mark.parametrize("budget", ["4XB", "-1GB", "0", "lots"])
def test_a_memory_budget_that_is_not_a_size_is_refused(run, image_folder, budget, capsys):
    with pytest.raises(SystemExit) as exit_:
        run("index", "build", "photos", "--folder", str(image_folder), f"--memory-budget={budget}")
    assert exit_.value.code == 2 and "is not a size" in capsys.readouterr().err
