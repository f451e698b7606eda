"""The tree passes ruff (lint and format), so CI catches style drift too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_apps_import_no_ml_library_directly():
    """apps/ only calls core/: the UI never imports a model or index library itself."""
    banned = ("transformers", "open_clip", "sentence_transformers", "faiss", "torch")
    for path in (ROOT / "apps").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                module = stripped.split()[1].split(".")[0]
                assert module not in banned, f"{path.relative_to(ROOT)} imports {module}"
