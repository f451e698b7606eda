"""The shape of the product's code, as a newcomer relies on it: no import circle, packages whose maps
say the truth, and files and functions short enough to read.

Every import counts, the ones inside functions too: a function-local import that closes a circle only
hides it. The map in each package's docstring lists its rooms in order, and a room imports only rooms
listed above it (the test reads the map, so the map cannot drift from the code).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "apps")
#: Data tables, not code: exempt from the length limit.
DATA_TABLES = {"core/languages.py"}
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60
#: Packages whose docstring map orders their rooms.
MAPPED = (
    "core.index",
    "core.index.ann",
    "core.index.format",
    "core.index.sources",
    "core.index.build",
    "core.index.build.engines",
    "core.index.searching",
    "core.index.service",
    "core.index.cli",
)
_MAP_LINE = re.compile(r"^    ([a-z_]+)/?\s{2,}\S")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(path): path for pkg in PRODUCT for path in (ROOT / pkg).rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return {name: path for name, path in found.items() if not name.startswith("core.testing")}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str) -> set[str]:
    """The product modules `name` imports anywhere in its file (functions included)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found.update(target for t in targets if (target := _resolve(t)) and target != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_anywhere_in_the_product():
    assert _cycles() == []


def _room_map(package: str) -> list[str]:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8")), clean=False) or ""
    return [match.group(1) for line in doc.splitlines() if (match := _MAP_LINE.match(line))]


def _room_of(module: str, package: str) -> str | None:
    """The child of `package` that `module` belongs to ("" for the package itself), or None."""
    if module == package:
        return ""
    prefix = package + "."
    return module[len(prefix) :].split(".")[0] if module.startswith(prefix) else None


@pytest.mark.parametrize("package", MAPPED)
def test_each_package_map_lists_its_rooms_in_import_order(package):
    rooms = _room_map(package)
    children = {_room_of(name, package) for name in MODULES} - {None, ""}
    assert set(rooms) == children, f"{package}'s map lists {rooms}, the folder holds {sorted(children)}"
    order = {room: n for n, room in enumerate(rooms)}
    wrong = []
    for module, imported in GRAPH.items():
        room = _room_of(module, package)
        if not room:
            continue  # outside the package, or its __init__ (which re-exports)
        for target in imported:
            other = _room_of(target, package)
            if other == "":
                wrong.append(f"{module} imports its own package {package}")
            elif other is not None and other != room and order[other] > order[room]:
                wrong.append(f"{module} ({room}) imports {target} ({other}), listed below it")
    assert wrong == []


def test_the_index_package_has_at_most_12_modules_of_its_own():
    assert len(list((ROOT / "core" / "index").glob("*.py"))) <= 12


def test_files_and_functions_are_short():
    long_files, long_functions = [], []
    for name, path in MODULES.items():
        relative = path.relative_to(ROOT).as_posix()
        if relative == "app.py":
            continue
        text = path.read_text(encoding="utf-8")
        if relative not in DATA_TABLES and len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(relative)
        for node in ast.walk(ast.parse(text)):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:  # type: ignore[union-attr]
                long_functions.append(f"{name}.{node.name}")  # type: ignore[union-attr]
    assert long_files == [] and long_functions == []
