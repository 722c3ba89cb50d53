"""Every public module declares ``__all__``, and it names exactly its public definitions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import mapsrv

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(mapsrv.__path__, "mapsrv.")
    if not m.name.rsplit(".", 1)[1].startswith("_")
)


def test_all_is_complete() -> None:
    assert "mapsrv.core.ops" in MODULES
    for name in MODULES:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        declared = set(module.__all__)
        defined = {
            k
            for k, v in vars(module).items()
            if not k.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == name
        }
        missing = defined - declared
        assert not missing, f"{name}.__all__ lacks {sorted(missing)}"
        for item in declared:
            assert hasattr(module, item), f"{name}.__all__ names {item}, which does not exist"


def test_core_stays_sans_io() -> None:
    forbidden = ("trio", "quart", "quart_trio", "redis", "mcp", "hypercorn", "httpx")
    for name in MODULES:
        if not name.startswith("mapsrv.core"):
            continue
        source = inspect.getsource(importlib.import_module(name))
        for lib in forbidden:
            assert (
                f"import {lib}" not in source
                and f"from {lib} " not in source
                and f"from {lib}." not in source
            ), f"{name} imports {lib}"


def test_every_folder_of_python_files_is_a_package_that_a_wheel_carries() -> None:
    """setup.cfg's ``packages = find:`` skips folders without ``__init__.py`` (namespace
    packages): their modules work in a checkout but are missing from every install."""
    root = Path(mapsrv.__file__).parent
    folders = {p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").is_file()) == []
