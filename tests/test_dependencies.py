"""What mapsrv imports is what it declares: every third-party package imported anywhere under
mapsrv/ (at the top of a module, inside a function or under ``TYPE_CHECKING``) names a
distribution that setup.cfg's ``install_requires`` lists. A package that only comes along with
another one (``pydantic`` with ``mcp``, ``anyio`` with ``mcp``) is a dependency of ours once we
import it: an upgrade of the other may drop it or move its range."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]  # the sources, also when tox installed a wheel
ROOT = CHECKOUT / "mapsrv"
SETUP_CFG = CHECKOUT / "setup.cfg"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    """The distribution names in setup.cfg's ``install_requires`` (comments and versions dropped)."""
    parser = configparser.ConfigParser()
    assert parser.read(SETUP_CFG), f"no {SETUP_CFG}"
    names = set()
    for line in parser["options"]["install_requires"].splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            assert found, f"setup.cfg: cannot read the requirement {line!r}"
            names.add(_normalized(found.group(0)))
    return names


def imported_top_level_packages() -> dict[str, set[str]]:
    """Every top-level package that a module under mapsrv/ imports (absolute imports), with the
    modules that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        where = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), where)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(where)
    return found


def test_every_third_party_package_mapsrv_imports_is_declared_in_install_requires() -> None:
    declared = declared_distributions()
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for package, modules in sorted(imported_top_level_packages().items()):
        if package == "mapsrv" or package in sys.stdlib_module_names:
            continue
        providers = distributions.get(package)
        assert providers, (
            f"{package} (imported by {sorted(modules)}) is not installed: no distribution provides it"
        )
        if not {_normalized(p) for p in providers} & declared:
            undeclared.append(
                f"{package} (distribution {' or '.join(providers)}; imported by {sorted(modules)})"
            )
    assert not undeclared, "imported but not in setup.cfg install_requires: " + "; ".join(undeclared)


def test_the_scan_sees_what_it_must() -> None:
    """The scan above is not vacuous: it finds imports under TYPE_CHECKING too, and setup.cfg is
    read with its comments dropped."""
    imported = imported_top_level_packages()
    assert "mapsrv/server.py" in imported["hypercorn"]
    assert "mapsrv/mcp/sdk.py" in imported["httpx2"]  # under TYPE_CHECKING only
    assert {"mcp", "redis", "hypercorn", "trio"} <= declared_distributions()
