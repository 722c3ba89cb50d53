"""docs/layout.md and docs/architecture.md describe the tree as it is: every path they name
exists, every package and loose module of mapsrv/ is named, and mapsrv/ keeps its handful of loose
modules (the rest of the code lives in one package per layer)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mapsrv"
PATH = re.compile(r"\b((?:mapsrv|tests|deploy|docs)/[\w./-]*)")
MOST_LOOSE_MODULES = 6


def _layout_block() -> str:
    page = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    found = re.search(r"```\n(.*?)```", page, re.S)
    assert found, "docs/layout.md has no code block"
    return found.group(1)


def _packages() -> list[str]:
    """mapsrv's packages, one level down (and the MCP tools, which the layout names apart)."""
    found = sorted(
        f"mapsrv/{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
    )
    return [*found, "mapsrv/mcp/tools/"]


def _loose_modules() -> list[str]:
    return sorted(
        f"mapsrv/{p.name}" for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )


def test_every_path_the_layout_names_exists() -> None:
    named = PATH.findall(_layout_block())
    assert len(named) > 10, named
    missing = [path for path in named if not (ROOT / path.rstrip(".,:;")).exists()]
    assert missing == [], f"docs/layout.md names paths that do not exist: {missing}"


def test_the_layout_names_every_package_and_loose_module() -> None:
    named = {path.rstrip(".,:;") for path in PATH.findall(_layout_block())}
    unnamed = [path for path in [*_packages(), *_loose_modules()] if path not in named]
    assert unnamed == [], f"docs/layout.md leaves out {unnamed}"


@pytest.mark.parametrize("doc", ["docs/architecture.md"])
def test_the_architecture_page_names_every_package(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    # the page lists each package's modules under it, so a subpackage appears by its own name
    unnamed = [path for path in _packages() if path not in text and f"  {path.split('/')[-2]}/" not in text]
    assert unnamed == [], f"{doc} leaves out {unnamed}"


def test_mapsrv_keeps_a_handful_of_loose_modules() -> None:
    loose = _loose_modules()
    assert len(loose) <= MOST_LOOSE_MODULES, f"{len(loose)} loose modules in mapsrv/: {loose}"


DOC_PATH = re.compile(
    r"(?<![\w./~\"-])((?:mapsrv|tests|deploy|docs|scripts)/[a-z0-9_./*-]*[a-z0-9_/*])(?![A-Za-z])"
)


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_the_docs_name_only_files_that_exist(doc: str) -> None:
    """Every mapsrv/, tests/, deploy/, docs/ or scripts/ path a document names is in the tree (a
    glob matches something). CHANGELOG.md is history: it names files as they were."""
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    named = set(DOC_PATH.findall(path.read_text(encoding="utf-8")))
    missing = sorted(p for p in named if not (any(ROOT.glob(p)) if "*" in p else (ROOT / p).exists()))
    assert missing == [], f"{doc} names paths that do not exist: {missing}"


MOST_LINES = {"module": 420, "class": 300, "function": 100}
# Past the limits still, each no longer than this (none since issue 48); the list only shrinks.
OVER: dict[str, int] = {}


def _sizes() -> dict[str, tuple[str, int]]:
    """Each module's, class's and function's length in lines, by its place."""
    found: dict[str, tuple[str, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                place = f"{prefix}{child.name}"
                found[place] = (kind, (child.end_lineno or child.lineno) - child.lineno + 1)
                visit(child, place + ".")

    for file in sorted(PACKAGE.rglob("*.py")):
        source = file.read_text(encoding="utf-8")
        name = file.relative_to(ROOT).as_posix()
        found[name] = ("module", len(source.splitlines()))
        visit(ast.parse(source), name + ":")
    return found


def test_no_module_class_or_function_grows_past_its_limit() -> None:
    sizes = _sizes()
    over = {
        place: lines for place, (kind, lines) in sizes.items() if lines > OVER.get(place, MOST_LINES[kind])
    }
    assert over == {}, f"past the limits (module 420, class 300, function 100 lines): {over}"
    shrunk = [
        place
        for place in OVER
        if sizes.get(place, ("", 0))[1] <= MOST_LINES[sizes.get(place, ("module", 0))[0]]
    ]
    assert shrunk == [], f"{shrunk} are within the limits now: take them off OVER"


def test_every_test_module_has_a_name_of_its_own() -> None:
    """pytest imports test modules by their basename (no packages under tests/): two files of one
    name in two folders stop the whole run at collection."""
    names: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}


def test_isinstance_takes_a_tuple_of_types_not_a_union() -> None:
    """``isinstance(v, int | float)`` builds the union each time it runs: map_image's 25,000 of
    them per 1,000 shapes were 51 M instructions (valgrind), a sixth of the image; the tuple
    ``(int, float)`` is a constant."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("isinstance", "issubclass")
                and len(node.args) == 2
                and isinstance(node.args[1], ast.BinOp)
                and isinstance(node.args[1].op, ast.BitOr)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
