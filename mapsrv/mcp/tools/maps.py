"""Tools for the map as a whole: make one, find one again, delete one, name it, move its camera,
show or hide its layers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.id_ranges import expanded
from mapsrv.core.model import check_bounds, check_id, check_text, check_zoom
from mapsrv.core.ops import AddLayer, FitBounds, Op, SetLayerVisibility, SetTitle, SetView
from mapsrv.errors import Forbidden, InvalidInput
from mapsrv.http.tokens import is_person
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.outlines import area_named
from mapsrv.mcp.tools.places import Resolver, map_anchors
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import Animate, Bounds, Expected, FeatureIds, MapId, PlaceOrPoint, Title, Zoom
from mapsrv.places.offline_areas import IndexArea
from mapsrv.workers import run

__all__ = ["create_map", "delete_map", "list_maps", "set_layer", "set_title", "set_view"]

MAX_LISTED = 200
NO_IDENTITY = (
    "without an API key or a session, mapsrv cannot tell your maps from other people's: give the"
    " user the links you got, or connect with an API key or a 2025-11-25 session"
)

# The zoom a place is shown at when none is given.
_ZOOM_OF = {"country": 5.0, "state": 6.0, "city": 11.0}
_DEFAULT_ZOOM = 12.0


async def create_map(tc: ToolContext, title: Title = "") -> CallToolResult:
    """Make a new, empty map. Give the user its url; it shows every change live. (draw without
    map_id also makes one.)"""
    title = check_text("title", title, tc.hub.limits.max_title)
    entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, title=title, maker=tc.actor.id)
    url, view_url = tc.links(entry)
    out = {"map_id": entry.id, "url": url, "view_url": view_url, "version": entry.state.version}
    if entry.edit_key:  # for people who edit with the owner (the owner can turn it off)
        out["edit_url"] = f"{tc.base_url.rstrip('/')}/e/{entry.edit_key}"
    return answer(out)


async def list_maps(
    tc: ToolContext,
    search: Annotated[str, Field(max_length=200, description="words in the title")] = "",
    limit: Annotated[int, Field(ge=1, le=MAX_LISTED)] = 20,
) -> CallToolResult:
    """Your maps, newest change first, to find one made earlier (stdio: the person's; an API key: the
    key's; else this session's)."""
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_LISTED}, got {limit!r:.20}; ask for fewer and search by title"
        )
    hub = tc.hub
    if tc.local and hub.private:
        found = await hub.maps_of()  # a private process: every map is the person's
    elif is_person(tc.principal):
        found = await hub.maps_of_person(str(tc.principal))  # an agent acting for a person
    elif tc.principal is not None:
        found = await hub.maps_of(principal=tc.principal)
    elif tc.in_session:
        found = await hub.maps_of(maker=tc.actor.id)
    else:
        return answer({"maps": [], "count": 0, "note": NO_IDENTITY})
    words = search.casefold().split()
    if words:
        found = [m for m in found if all(w in m.title.casefold() for w in words)]
    base = tc.base_url.rstrip("/")
    maps = [
        {
            "map_id": m.meta.id,
            "title": m.title,
            "version": m.version,
            "features": m.features,
            "updated": datetime.fromtimestamp(m.updated, UTC).isoformat(timespec="seconds"),
            "by": m.updated_by,
            "url": f"{base}/m/{m.meta.id}",
            "view_url": f"{base}/v/{m.meta.view_key}",  # read-only: the link to share
        }
        for m in found[:limit]
    ]
    out: dict[str, Any] = {"maps": maps, "count": len(found)}
    if len(found) > limit:
        out["cut"] = (
            f"stopped at limit {limit}, newest change first; raise limit (up to {MAX_LISTED}) or search"
        )
    return answer(out)


async def delete_map(tc: ToolContext, map_id: MapId) -> CallToolResult:
    """Delete a map for good, with its history and links (ask the user first)."""
    entry = await tc.entry(map_id)
    mine = (
        (tc.local and tc.hub.private)
        or (tc.principal is not None and entry.principal == tc.principal)
        or (tc.principal is None and tc.in_session and entry.maker == tc.actor.id and entry.owner is None)
        or (
            is_person(tc.principal) and entry.owner in await tc.hub.people.owners_of_person(str(tc.principal))
        )
    )
    if not mine:
        raise Forbidden("only the map's owner can delete it: ask them to, from the map's page")
    await tc.hub.delete_map(entry)
    return answer({"map_id": entry.id, "deleted": True})


async def set_title(
    tc: ToolContext, map_id: MapId, title: Title, expected_version: Expected = None
) -> CallToolResult:
    """Set the title shown above the map."""
    op = SetTitle(check_text("title", title, tc.hub.limits.max_title))
    return answer(await tc.write(map_id, [op], expected_version))


async def set_view(
    tc: ToolContext,
    map_id: MapId,
    at: PlaceOrPoint = None,
    zoom: Zoom = None,
    bounds: Bounds = None,
    ids: FeatureIds = None,
    animate: Animate = True,
    expected_version: Expected = None,
) -> CallToolResult:
    """Move the camera to a point or place (at, zoom), a box or country (bounds), features (ids), or,
    with none, every feature."""
    limits = tc.hub.limits
    given = [name for name, value in (("at", at), ("bounds", bounds), ("ids", ids)) if value]
    if len(given) > 1:
        raise InvalidInput(
            f"set_view must get at most one of at, bounds, ids, got {', '.join(given)}; give one"
        )
    framed = await _extract_area(tc, map_id, bounds) if isinstance(bounds, str) else None
    places = await Resolver.open(tc, [at, None if framed else bounds], map_id)
    op: Op
    if framed is not None:
        op = FitBounds(bounds=framed.bounds, animate=animate)
    elif at is not None:
        center = places.point("at", at)
        kind = places.places[at].kind if isinstance(at, str) else None
        op = SetView(
            center,
            check_zoom(zoom if zoom is not None else _ZOOM_OF.get(kind or "", _DEFAULT_ZOOM), limits),
            animate,
        )
    elif isinstance(bounds, str):
        place = places.place("bounds", bounds)
        if place.bounds is None:
            op = SetView(place.latlon, _ZOOM_OF["city"], animate)
        else:
            op = FitBounds(bounds=place.bounds, animate=animate)
    elif bounds is not None:
        op = FitBounds(bounds=check_bounds("bounds", bounds), animate=animate)
    else:
        if ids and any("-" in fid for fid in ids):  # runs of ids, f1-f177, as an import answers them
            ids = expanded(ids, (await tc.entry(map_id)).state.features)
        op = FitBounds(feature_ids=tuple(check_id("feature", fid) for fid in ids or ()), animate=animate)
    out = await tc.write(map_id, [op], expected_version)
    if places.places:
        out.update(places.resolved())
    if framed is not None:
        out["area"] = framed.to_json()
    return answer(out)


async def _extract_area(tc: ToolContext, map_id: str, name: str) -> IndexArea | None:
    """The imported extracts' area ``name`` means (a city's boundary, a district, a park), unless
    it names a country or a region (the resolver's, as before), as ``select``'s ``within`` reads it."""
    points = map_anchors((await tc.entry(map_id)).state).anchors
    if await run("geometry", area_named, name, points) is not None:
        return None
    return await tc.places.area_named(name, points)


async def set_layer(
    tc: ToolContext,
    map_id: MapId,
    layer: Annotated[str, Field(description="layer id (letters, digits, _.:-)")],
    visible: bool = True,
    name: Annotated[str, Field(max_length=200, description="shown to the user; for a new layer")] = "",
    expected_version: Expected = None,
) -> CallToolResult:
    """Show or hide a layer (a group of features), creating it when missing."""
    lid = check_id("layer", layer)
    entry = await tc.entry(map_id)
    if lid in entry.state.layers:
        op: Op = SetLayerVisibility(lid, visible)
    else:
        op = AddLayer(lid, check_text("name", name or lid, tc.hub.limits.max_label), visible)
    return answer(await tc.write(map_id, [op], expected_version))
