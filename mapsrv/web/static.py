"""Static files: the page's own (``mapsrv/web/static``, package data) and Leaflet's (from the
xstatic-leaflet package).

Every static file is public and answers any origin (``Access-Control-Allow-Origin: *``): the MCP
App runs in a host's sandboxed, opaque-origin iframe and loads its ES modules (fetched in CORS
mode) from here.

The page's templates (``index.html``, ``claim.html``, ``gone.html``) live apart, in
``mapsrv/web/templates`` (rendered by ``mapsrv.http.templates``). Only the files of the static
folder are served, by exact name, so no spelling of a path (``./index.html``, ``../``) reaches
anything else; a template's name is refused outright.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import xstatic.pkg.leaflet
from quart import Blueprint, Response, send_from_directory

from mapsrv.errors import HttpError, InvalidInput
from mapsrv.places.world import DIRECTORY, FILES
from mapsrv.web.context import web_context

__all__ = [
    "CLAIM_TEMPLATE",
    "GONE_TEMPLATE",
    "MAPS_TEMPLATE",
    "SIGNED_OUT_TEMPLATE",
    "SIGNIN_FAILED_TEMPLATE",
    "STATIC_DIR",
    "TEMPLATE",
    "TEMPLATES",
    "find_static_dir",
    "leaflet",
    "served_files",
    "static_file",
    "static_files",
    "world",
]

TEMPLATE = "index.html"
CLAIM_TEMPLATE = "claim.html"  # an agent-made map nobody has opened yet
GONE_TEMPLATE = "gone.html"  # a map that does not exist (any more), for a browser
MAPS_TEMPLATE = "maps.html"  # a person's maps (``mapsrv.web.maps``)
SIGNIN_FAILED_TEMPLATE = "signin_failed.html"  # a sign-in that did not work (``mapsrv.web.signin_pages``)
SIGNED_OUT_TEMPLATE = "signed_out.html"  # after sign-out (``mapsrv.web.signout``)
TEMPLATES = frozenset(
    {TEMPLATE, CLAIM_TEMPLATE, GONE_TEMPLATE, MAPS_TEMPLATE, SIGNIN_FAILED_TEMPLATE, SIGNED_OUT_TEMPLATE}
)

STATIC_DIR = Path(__file__).resolve().parent / "static"  # package data (setup.cfg)

static_files = Blueprint("static_files", __name__)
_LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)


def find_static_dir() -> Path:
    """The page's served files, inside the package wherever it is installed; raises when an
    install lost them (the Dockerfile's build check calls this)."""
    if not (STATIC_DIR / "render.js").is_file():
        raise RuntimeError(f"mapsrv's static files are missing from {STATIC_DIR}")
    return STATIC_DIR


def served_files(static_dir: Path) -> frozenset[str]:
    return frozenset(p.name for p in static_dir.iterdir() if p.is_file())  # templates live apart


@static_files.get("/static/leaflet/<path:filename>")
async def leaflet(filename: str) -> Response:
    response = await send_from_directory(_LEAFLET_DIR, filename)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@static_files.get("/static/world/<name>")
async def world(name: str) -> Response:
    """The offline world map's outlines (``mapsrv.places.world``), by exact name."""
    if name not in FILES.values():
        raise HttpError(404, "not found")
    response = await send_from_directory(DIRECTORY, name)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
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
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
