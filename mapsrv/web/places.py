"""The page's search box: ``GET /<m|e|v>/<key>/places?q=TEXT&near=LAT,LON&limit=N`` answers the
server's one resolver (``mapsrv.places.service``), the tools' and the image's, as
``{"places": [place.to_json() with its "label"]}``, best first.

Searching reads nothing of the map and flying there is the page's own business, so the view link
searches too; a view link's answer is readable by any origin (the MCP App runs in a host's
opaque-origin iframe), as its event stream is. Adding a marker at a result is a write like any
other (``POST .../ops``, ``mapsrv.web.writes``), the view link's refused.
"""

from __future__ import annotations

import math
from typing import Any

from quart import Blueprint, Response, request
from werkzeug.datastructures import MultiDict

from mapsrv.core.codec import dumps
from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput, MapsrvError
from mapsrv.http.responses import error_body, error_headers
from mapsrv.hub.access import resolve
from mapsrv.places.model import PlaceNotFound
from mapsrv.places.service import check_limit
from mapsrv.places.sources import Query
from mapsrv.web.context import current_user, web_context

__all__ = ["MAX_QUERY", "MAX_RESULTS", "parse_query", "places", "search_places"]

places = Blueprint("places", __name__)

MAX_QUERY = 200  # characters of a search: an address with its town fits in far fewer
MAX_RESULTS = 10
DEFAULT_RESULTS = 5


@places.get("/<any(m, e, v):kind>/<key>/places")
async def search_places(kind: str, key: str) -> Response:
    try:
        response = await _search(kind, key)
    except MapsrvError as exc:
        response = Response(error_body(exc), status=exc.status, content_type="application/json")
        for name, value in error_headers(exc):
            response.headers[name] = value
    if kind == "v":  # read-only and cookie-free: the MCP App's iframe may read it, errors too
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def _search(kind: str, key: str) -> Response:
    ctx = web_context()
    await resolve(ctx.hub, kind, key, current_user())  # an unknown map: the usual 404
    query = parse_query(request.args)
    body: dict[str, Any] = {"places": []}
    try:
        found = await ctx.places.lookup(query)
    except PlaceNotFound as exc:  # no match is an answer here, not a missing resource
        body["suggestions"] = exc.suggestions
    else:
        body["places"] = [place.to_json() | {"label": ctx.places.label(place)} for place in found.places]
        if found.unavailable:  # what the other sources found, and why it may not be all
            body["unavailable"] = found.unavailable[0].message.split(";")[0]
    return Response(dumps(body), content_type="application/json")


def parse_query(args: MultiDict[str, str]) -> Query:
    """The search in a request's query string; ``InvalidInput`` naming the first bad value."""
    text = " ".join(args.get("q", "").split())
    if not text:
        raise InvalidInput("q is required: the name of a place, or an address")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"q must be at most {MAX_QUERY} characters, got {len(text)}")
    limit_text = args.get("limit", str(DEFAULT_RESULTS))
    limit = check_limit(
        int(limit_text) if limit_text.isdigit() and len(limit_text) < 4 else limit_text, MAX_RESULTS
    )
    near = _near(args["near"]) if "near" in args else None
    return Query(text=text, near=near, limit=limit)


def _near(text: str) -> LatLon:
    parts = text.split(",")
    try:
        lat, lon = (float(part) for part in parts)
    except ValueError:
        lat = lon = math.nan
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f'near must be "lat,lon" (lat -90..90, lon -180..180), got {text!r:.60}')
    return (lat, lon)
