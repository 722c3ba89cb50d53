"""The JSON API of one map that reads it: its state (now, or as it was at a version) and its
GeoJSON export. The page's writes (ops, undo, redo) are ``mapsrv.web.writes``.
"""

from __future__ import annotations

import dataclasses
import json
import re

from quart import Blueprint, Response, request

from mapsrv.core.codec import dumps
from mapsrv.errors import InvalidInput
from mapsrv.formats import export_file, export_notes
from mapsrv.hub.access import resolve
from mapsrv.image.render import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE, ImageRequest
from mapsrv.web.context import current_user, web_context
from mapsrv.web.pages import links_json
from mapsrv.workers import checked, run

__all__ = ["api", "export", "file_stem", "geojson", "image", "state"]

api = Blueprint("api", __name__)


@api.get("/<any(m, e, v):kind>/<key>/state")
async def state(kind: str, key: str) -> Response:
    hub = web_context().hub
    entry = await resolve(hub, kind, key, current_user())
    at = request.args.get("at")
    if at is None:
        body = await entry.state_body()
        if kind == "m":  # the owner's: with the map's links (an object's first members)
            links = dumps(links_json(web_context(), entry.meta))
            body = links[:-1] + "," + body[1:]
        return Response(body, content_type="application/json")
    version = _version("at", at)
    past = (await hub.state_at(entry.id, version)).to_json()
    past.update(version=version, current_version=entry.state.version)
    return Response(dumps(past), content_type="application/json")


@api.get("/<any(m, e, v):kind>/<key>/geojson")
async def geojson(kind: str, key: str) -> Response:
    entry = await resolve(web_context().hub, kind, key, current_user())
    response = Response(await entry.geojson_body(), content_type="application/geo+json")
    response.headers["Content-Disposition"] = 'attachment; filename="map.geojson"'
    return response


_EXPORTS = "gpx, kml, kmz, csv, geojson, shp.zip, gpkg, fgb, parquet"


@api.get(f"/<any(m, e, v):kind>/<key>/export.<any({_EXPORTS}):extension>")
async def export(kind: str, key: str, extension: str) -> Response:
    """The map as a file to download, for the owner's and the view link alike; ``?layer=`` one
    of its layers only."""
    entry = await resolve(web_context().hub, kind, key, current_user())
    state, layer = entry.state, request.args.get("layer")
    if layer is not None:
        if layer not in state.layers:
            raise InvalidInput(
                f"layer {layer[:64]!r} is not a layer of this map; leave it out for the whole map"
            )
        state = dataclasses.replace(
            state, features={k: f for k, f in state.features.items() if f.layer == layer}
        )
    body: str | bytes
    if extension == "geojson" and layer is None:
        body, media = await entry.geojson_body(), "application/geo+json"
        notes = tuple(await run("encode", export_notes, state, "geojson"))
    else:
        fmt = extension.removesuffix(".zip")
        exported = await run("encode", export_file, checked(state), fmt)  # stops if the client leaves
        body, media, extension, notes = exported.body, exported.media_type, exported.extension, exported.notes
    response = Response(body, content_type=media)
    if notes:  # what the format could not hold, as the MCP export says it (ASCII JSON: a header)
        response.headers["X-Mapsrv-Notes"] = json.dumps(list(notes))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{file_stem(entry.state.title)}.{extension}"'
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def file_stem(title: str) -> str:
    """A download's name from the map's title: ASCII letters, digits and dashes ("map" when none
    are left), so no header can be broken by what an agent or a person wrote."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60]
    return stem or "map"


@api.get("/<any(m, e, v):kind>/<key>/image.png")
async def image(kind: str, key: str) -> Response:
    """The map as the page shows it, drawn on the server (``mapsrv.image``): ``w`` and ``h`` in
    pixels (800 x 600 by default, 64 to 1280 a side). The ETag is the version and the size: a
    client that has this version's image gets a 304 without a drawing."""
    ctx = web_context()
    entry = await resolve(ctx.hub, kind, key, current_user())
    width = _side("w", request.args.get("w"), DEFAULT_SIZE[0])
    height = _side("h", request.args.get("h"), DEFAULT_SIZE[1])
    state = entry.state
    etag = f'"{state.version}-{width}x{height}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(b"", status=304, headers=headers)
    rendered = await ctx.images.render(state, ImageRequest(width=width, height=height))
    return Response(rendered.png, content_type="image/png", headers=headers)


def _side(name: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not MIN_SIDE <= int(text) <= MAX_SIDE:
        raise InvalidInput(f"{name} must be a size in pixels from {MIN_SIDE} to {MAX_SIDE}, got {text!r:.20}")
    return int(text)


def _version(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"{name} must be a version (an integer >= 0), got {text!r:.40}")
    return int(text)
