"""Static files: the page's own (``mapsrv/static`` when installed, ``static/`` in a checkout) and
Leaflet's (from the xstatic-leaflet package).

``index.html``, ``claim.html`` and ``gone.html`` are templates, not files to serve: only the
other files of the directory are, by exact name, so no spelling of a path (``./index.html``,
``../``) reaches anything else.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import xstatic.pkg.leaflet
from quart import Blueprint, Response, send_from_directory

from mapsrv.errors import HttpError, InvalidInput
from mapsrv.web.context import web_context

__all__ = [
    "CLAIM_TEMPLATE",
    "GONE_TEMPLATE",
    "TEMPLATE",
    "TEMPLATES",
    "find_static_dir",
    "leaflet",
    "served_files",
    "static_file",
    "static_files",
]

TEMPLATE = "index.html"
CLAIM_TEMPLATE = "claim.html"  # an agent-made map nobody has opened yet
GONE_TEMPLATE = "gone.html"  # a map that does not exist (any more), for a browser
TEMPLATES = frozenset({TEMPLATE, CLAIM_TEMPLATE, GONE_TEMPLATE})

static_files = Blueprint("static_files", __name__)
_LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)


def find_static_dir() -> Path:
    """``mapsrv/static`` inside the installed package (setup.py copies ``static/`` there at build
    time), else ``static/`` beside the package in a checkout."""
    package = Path(__file__).resolve().parent.parent
    candidates = [package / "static", package.parent / "static"]
    for candidate in candidates:
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise RuntimeError(f"mapsrv's static files are missing; looked in {', '.join(map(str, candidates))}")


def served_files(static_dir: Path) -> frozenset[str]:
    return frozenset(p.name for p in static_dir.iterdir() if p.is_file() and p.name not in TEMPLATES)


@static_files.get("/static/leaflet/<path:filename>")
async def leaflet(filename: str) -> Response:
    response = await send_from_directory(_LEAFLET_DIR, filename)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@static_files.get("/static/<path:filename>")
async def static_file(filename: str) -> Response:
    ctx = web_context()
    if filename not in ctx.served:
        if posixpath.normpath(filename) in TEMPLATES:
            raise InvalidInput("not a static file")
        raise HttpError(404, "not found")
    response = await send_from_directory(ctx.static_dir, filename)
    response.headers["Cache-Control"] = "no-cache"
    return response
