"""The JSON API of one map: its state (now, or as it was at a version), its GeoJSON export, the
ops endpoint that writes it, and undo/redo of the person's own changes.

Writes from the page are a person's: the actor is derived from the browser's User-Agent and its
user cookie (a hash of it; ``person_actor``). The Origin of writes is checked before a request
gets here (``mapsrv.routes`` marks the routes).
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, request

from mapsrv.access import resolve
from mapsrv.core.codec import dumps
from mapsrv.core.events import Event
from mapsrv.core.geojson import to_geojson
from mapsrv.core.history import Actor, person_actor
from mapsrv.core.parse import parse_ops
from mapsrv.errors import InvalidInput
from mapsrv.web.context import current_user, web_context

__all__ = ["api", "geojson", "ops", "person", "redo", "state", "undo"]

api = Blueprint("api", __name__)


@api.get("/<any(m, v):kind>/<key>/state")
async def state(kind: str, key: str) -> Response:
    hub = web_context().hub
    entry = await resolve(hub, kind, key, current_user())
    at = request.args.get("at")
    if at is None:
        return Response(dumps(entry.state_json()), content_type="application/json")
    version = _version("at", at)
    past = (await hub.state_at(entry.id, version)).to_json()
    past.update(version=version, current_version=entry.state.version)
    return Response(dumps(past), content_type="application/json")


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
    base = body.pop("base_version", None) if isinstance(body, dict) else None
    if base is not None and (isinstance(base, bool) or not isinstance(base, int) or base < 0):
        raise InvalidInput(f"base_version must be a version (an integer >= 0), got {base!r:.40}")
    parsed, expected = parse_ops(body, hub.limits)
    events = await hub.apply(entry.id, parsed, expected_version=expected, base_version=base, actor=person())
    return _written(events)


@api.post("/m/<map_id>/undo")
async def undo(map_id: str) -> Response:
    """Revert this person's last change (never anyone else's)."""
    hub = web_context().hub
    entry = await resolve(hub, "m", map_id, current_user())
    return _written(await hub.undo(entry.id, person()))


@api.post("/m/<map_id>/redo")
async def redo(map_id: str) -> Response:
    hub = web_context().hub
    entry = await resolve(hub, "m", map_id, current_user())
    return _written(await hub.redo(entry.id, person()))


def person() -> Actor:
    """The person behind this request: their browser, and a hash of its user cookie."""
    return person_actor(request.headers.get("User-Agent"), current_user() or "")


def _written(events: list[Event]) -> Response:
    return Response(dumps({"version": events[-1].version}), content_type="application/json")


def _version(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"{name} must be a version (an integer >= 0), got {text!r:.40}")
    return int(text)


def _reject_constant(value: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {value} is not a JSON number")


def _parse_json(data: str | bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"body is not valid JSON: {str(exc)[:120]}") from None
