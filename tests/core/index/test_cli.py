"""`python app.py index build|search|info`, run in-process through app.main."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize("command", ["build", "search", "info"])
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
