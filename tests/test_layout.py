"""The README's Layout and docs/architecture.md describe the tree as it is: every path they name
exists, every package and loose module of mapsrv/ is named, and mapsrv/ keeps its handful of loose
modules (the rest of the code lives in one package per layer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mapsrv"
PATH = re.compile(r"\b((?:mapsrv|tests|deploy|docs)/[\w./-]*)")
MOST_LOOSE_MODULES = 6


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```\n(.*?)```", section, re.S)
    assert found, "README's Layout section has no code block"
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
    assert missing == [], f"README's Layout names paths that do not exist: {missing}"


def test_the_layout_names_every_package_and_loose_module() -> None:
    named = {path.rstrip(".,:;") for path in PATH.findall(_layout_block())}
    unnamed = [path for path in [*_packages(), *_loose_modules()] if path not in named]
    assert unnamed == [], f"README's Layout leaves out {unnamed}"


@pytest.mark.parametrize("doc", ["docs/architecture.md"])
def test_the_architecture_page_names_every_package(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    # the page lists each package's modules under it, so a subpackage appears by its own name
    unnamed = [path for path in _packages() if path not in text and f"  {path.split('/')[-2]}/" not in text]
    assert unnamed == [], f"{doc} leaves out {unnamed}"


def test_mapsrv_keeps_a_handful_of_loose_modules() -> None:
    loose = _loose_modules()
    assert len(loose) <= MOST_LOOSE_MODULES, f"{len(loose)} loose modules in mapsrv/: {loose}"
