"""The JSON API of one map that reads it: its state (now, or as it was at a version) and its
GeoJSON export. The page's writes (ops, undo, redo) are ``mapsrv.web.writes``.
"""

from __future__ import annotations

import trio
from quart import Blueprint, Response, request

from mapsrv.core.codec import dumps
from mapsrv.core.geojson import to_geojson
from mapsrv.errors import InvalidInput
from mapsrv.hub.access import resolve
from mapsrv.hub.fanout import SNAPSHOT_THREAD
from mapsrv.web.context import current_user, web_context

__all__ = ["api", "geojson", "state"]

api = Blueprint("api", __name__)


@api.get("/<any(m, v):kind>/<key>/state")
async def state(kind: str, key: str) -> Response:
    hub = web_context().hub
    entry = await resolve(hub, kind, key, current_user())
    at = request.args.get("at")
    if at is None:
        return Response(await entry.state_body(), content_type="application/json")
    version = _version("at", at)
    past = (await hub.state_at(entry.id, version)).to_json()
    past.update(version=version, current_version=entry.state.version)
    return Response(dumps(past), content_type="application/json")


@api.get("/<any(m, v):kind>/<key>/geojson")
async def geojson(kind: str, key: str) -> Response:
    entry = await resolve(web_context().hub, kind, key, current_user())
    state = entry.state
    if len(state.features) < SNAPSHOT_THREAD:
        body = dumps(to_geojson(state))
    else:  # a big map's in a worker thread: the state is immutable
        body = await trio.to_thread.run_sync(lambda: dumps(to_geojson(state)))
    response = Response(body, content_type="application/geo+json")
    response.headers["Content-Disposition"] = 'attachment; filename="map.geojson"'
    return response


def _version(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"{name} must be a version (an integer >= 0), got {text!r:.40}")
    return int(text)
