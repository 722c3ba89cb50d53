"""The page's JavaScript as ES modules: every module parses (Node's own parser, as a module), the
two entry points (the page's main.js and the MCP App's app.js) reach the one renderer, each page
preloads exactly the modules its entry reaches, and no module hands another anything through a
global (``window.mapsrv`` is the one, read-only handle for embedders and tests)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from support import require

import mapsrv.mcp
import mapsrv.web

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
PAGE = Path(mapsrv.web.__file__).resolve().parent / "templates" / "index.html"
APP = Path(mapsrv.mcp.__file__).resolve().parent / "templates" / "app.html"
IMPORT = re.compile(r"^import\s+(?:[^'\"]*?\s+from\s+)?'\./([\w-]+\.js)';", re.M)
CLASSIC = re.compile(r'<script src="/static/([\w-]+\.js)"(?![^>]*type="module")')  # leaflet's path has a /
PRELOAD = re.compile(r'<link rel="modulepreload" href="(?:\{\{ origin \}\})?/static/([\w-]+\.js)"')


def reached(entry: str) -> set[str]:
    """The modules ``entry`` imports, directly or not (itself included)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(IMPORT.findall((STATIC / name).read_text(encoding="utf-8")))
    return seen


def test_every_module_parses_as_a_module() -> None:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    for path in sorted(STATIC.glob("*.js")):
        source = path.read_text(encoding="utf-8")
        module = [node, "--check", "--input-type=module"]
        check = subprocess.run(module, input=source, capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"{path.name}: {check.stderr}"


def test_the_page_and_the_app_draw_with_the_one_renderer() -> None:
    page, app = reached("main.js"), reached("app.js")
    shared = {
        "render.js",
        "areas.js",
        "shapes.js",
        "labels.js",
        "placement.js",
        "inside.js",
        "points.js",
        "style.js",
        "numbers.js",
        "legend.js",
        "timeslider.js",
        "times.js",
        "stream.js",
        "dom.js",
        "basemap.js",
        "sources.js",
        "archives.js",
        "pmtiles.js",
        "mvt.js",
        "streets.js",
        "streetlabels.js",
    }
    assert shared <= page and shared <= app
    # the app takes nothing of the page's own (panel, editing, presence)
    assert app - shared == {"app.js"}, app
    lists = reached("maps.js")  # the /maps page's one module: it shares nothing with the map
    assert lists == {"maps.js"}
    uploads = reached("upload.js")  # an upload link's page (/u/<token>): one module of its own
    assert uploads == {"upload.js"}
    classic = set(CLASSIC.findall(PAGE.read_text(encoding="utf-8")))  # early.js: not a module
    assert classic == {"early.js"} and not classic & (page | app)
    assert {p.name for p in STATIC.glob("*.js")} == page | app | lists | uploads | classic, (
        "a module nothing imports"
    )


def test_each_page_preloads_exactly_the_modules_its_entry_reaches() -> None:
    page = PRELOAD.findall(PAGE.read_text(encoding="utf-8"))
    app = PRELOAD.findall(APP.read_text(encoding="utf-8"))
    assert len(page) == len(set(page)) and len(app) == len(set(app))
    assert set(page) == reached("main.js") - {"main.js"}
    assert set(app) == reached("app.js") - {"app.js"}


def test_no_module_shares_a_global() -> None:
    assigned = {}
    for path in STATIC.glob("*.js"):
        for name in re.findall(r"\bwindow\.(\w+)\s*=[^=]", path.read_text(encoding="utf-8")):
            assigned.setdefault(name, []).append(path.name)
    # and the stream early.js asked for, which stream.js takes once (its only reader)
    assert assigned == {"mapsrv": ["map.js"], "mapsrvEarlyStream": ["early.js"]}, assigned
    reads = [p.name for p in STATIC.glob("*.js") if "mapsrvEarlyStream" in p.read_text(encoding="utf-8")]
    assert sorted(reads) == ["early.js", "stream.js"], reads
