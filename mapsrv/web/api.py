"""The JSON API of one map: its state, its GeoJSON export, and the ops endpoint that writes it.

The Origin of writes is checked before a request gets here (``mapsrv.routes`` marks the routes).
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, request

from mapsrv.access import resolve
from mapsrv.core.codec import dumps
from mapsrv.core.geojson import to_geojson
from mapsrv.core.parse import parse_ops
from mapsrv.errors import InvalidInput
from mapsrv.web.context import current_user, web_context

__all__ = ["api", "geojson", "ops", "state"]

api = Blueprint("api", __name__)


@api.get("/<any(m, v):kind>/<key>/state")
async def state(kind: str, key: str) -> Response:
    entry = await resolve(web_context().hub, kind, key, current_user())
    return Response(dumps(entry.state_json()), content_type="application/json")


@api.get("/<any(m, v):kind>/<key>/geojson")
async def geojson(kind: str, key: str) -> Response:
    entry = await resolve(web_context().hub, kind, key, current_user())
    response = Response(dumps(to_geojson(entry.state)), content_type="application/geo+json")
    response.headers["Content-Disposition"] = 'attachment; filename="map.geojson"'
    return response


@api.post("/m/<map_id>/ops")
async def ops(map_id: str) -> Response:
    hub = web_context().hub
    entry = await resolve(hub, "m", map_id, current_user())
    if request.mimetype != "application/json":
        raise InvalidInput("send the ops as application/json")
    body = _parse_json(await request.get_data(as_text=False, parse_form_data=False))
    parsed, expected = parse_ops(body, hub.limits)
    events = await hub.apply(entry.id, parsed, expected_version=expected)
    return Response(dumps({"version": events[-1].version}), content_type="application/json")


def _reject_constant(value: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {value} is not a JSON number")


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"body is not valid JSON: {str(exc)[:120]}") from None
