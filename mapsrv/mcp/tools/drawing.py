"""Tools that change what is drawn: ``draw`` (a whole drawing in one call), ``edit`` and ``remove``.

A call is one batch: every item or none, committed once, seen by the page at once. Core gives each
event of a batch its own version (a layer the drawing creates, the features, the camera), and the
answer carries the version after the last: what ``expected_version`` compares against. No
batch-level event is needed for "one version": versions order events; the unit an agent sees and
retries is the call. The features of a drawing are one ``upsert`` change, drawn by the page at once.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.framing import framed
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.id_ranges import expanded
from mapsrv.core.model import DEFAULT_LAYER, Feature, Limits, check_id, check_text
from mapsrv.core.ops import (
    Clear,
    FitBounds,
    ImportFeatures,
    Op,
    RemoveFeatures,
    RemoveLayer,
    SetTitle,
    SetView,
)
from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.area_items import area_outlines, named_areas, outlined
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.items import read_change, read_item
from mapsrv.mcp.tools.places import Resolver
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.route_plans import renumber, stops_renumbered, straight_orders
from mapsrv.mcp.tools.routing import NO_ROUTER, Markers, RouteDrawing, along, plan_routes, route_answer
from mapsrv.mcp.tools.schema import Base, Changes, Expected, FeatureIds, GeoJson, Items, MapId, OptionalMapId
from mapsrv.routing.lines import redrawn
from mapsrv.workers import run

__all__ = ["draw", "edit", "remove"]

_POINT_ZOOM = 12  # a drawing of one point is shown at city zoom, not fitted to a zero-size box


def _geometries(raw: list[Any]) -> list[Any]:
    """The places named, for the resolver: an area drawn as its outline is not a point's."""
    areas = set(named_areas(raw))
    return [
        value
        for item in raw
        if isinstance(item, dict)
        for key in ("at", "points", "bounds")
        if (value := item.get(key)) is not None
        and not (key == "bounds" and isinstance(value, str) and value in areas)
    ]


THREAD_FEATURES = 1_000  # GeoJSON features from which reading them moves off the event loop


async def _read_geojson(geojson: Any, limits: Limits, layer: str) -> tuple[Feature, ...]:
    """The GeoJSON's features; a big collection is read in a worker thread (the reading is pure:
    10,000 points take ~150-250 ms here, which would stop every stream of the process)."""
    listed = geojson.get("features") if isinstance(geojson, dict) else None
    read = partial(features_from_geojson, geojson, limits, layer=layer)
    if isinstance(listed, list) and len(listed) > THREAD_FEATURES:
        return await run("encode", read)
    return read()


def _unique(features: list[Feature]) -> None:
    seen: set[str] = set()
    for feature in features:
        if feature.id and feature.id in seen:
            raise InvalidInput(f"id must be unique in a drawing, got {feature.id!r} twice; rename one")
        seen.add(feature.id)


def _camera(features: list[Feature]) -> Op:
    ((south, west), (north, east)), _ = framed(features)  # the bulk, a few far ones aside
    if (south, west) == (north, east):
        return SetView((south, west), _POINT_ZOOM)
    return FitBounds(bounds=((south, west), (north, east)))


async def draw(
    tc: ToolContext,
    items: Items,
    map_id: OptionalMapId = None,
    layer: Annotated[str | None, Field(description="default layer for the items")] = None,
    title: Annotated[str | None, Field(description="also set the map's title")] = None,
    geojson: GeoJson = None,
    fit: Annotated[bool, Field(description="show what was drawn")] = True,
    expected_version: Expected = None,
    base_version: Base = None,
) -> CallToolResult:
    """Draw any number of markers, lines, polygons, circles, rectangles and routes in one call,
    all or none. Points are [lat, lon] or place names ('Lisbon', 'Paris, TX'). Answers the ids."""
    limits = tc.hub.limits
    if not items and geojson is None:
        raise InvalidInput(
            'items must hold at least one item, got []; e.g. [{"at": "Lisbon", "label": "Lisbon"}]'
        )
    places = await Resolver.open(tc, _geometries(items), map_id)
    if names := named_areas(items):  # polygons drawn as an area's outline, by its name
        places.outlines = await area_outlines(tc, names, map_id)
    # Everything is checked before the router is asked: a call it cannot take costs it nothing.
    features, drawings = await _read_items(tc, items, places, layer, map_id)
    if geojson is not None:
        features += await _read_geojson(geojson, limits, check_id("layer", layer or DEFAULT_LAYER))
    _unique(features)
    routed = await plan_routes(tc.router, items, places)
    straight = straight_orders(items, places) if tc.router is None else {}
    for drawing in drawings:
        drawing.route = routed.get(drawing.item)
        drawing.straight = straight.get(drawing.item, ())
        line = features[drawing.line_at]
        if drawing.route is not None:
            features[drawing.line_at] = along(line, drawing.route, limits, f"items[{drawing.item}]")
        elif drawing.straight:
            coords = [line.coords[i] for i in drawing.straight]
            features[drawing.line_at] = redrawn(line, coords, dict(line.properties), (), limits)
        renumber(features, drawing)
    ops: list[Op] = [] if title is None else [SetTitle(check_text("title", title, limits.max_title))]
    if features:
        ops.append(ImportFeatures(tuple(features)))
        if fit:
            ops.append(_camera(features))
    url = None
    if map_id is None:
        entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, maker=tc.actor.id)
        map_id, url = entry.id, tc.links(entry)[0]
    out = await tc.write(map_id, ops, expected_version, base_version)
    if url is not None:
        out["url"] = url
    if drawings:
        out["routes"] = [route_answer(drawing, out.get("ids", [])) for drawing in drawings]
        if tc.router is None:
            out["routes_along"] = NO_ROUTER
    if places.places:
        out.update(places.resolved())
    if places.outlines:
        out["outlined"] = outlined(places.outlines)  # what each name drew: a country's, a district's
    return answer(out)


async def _read_items(
    tc: ToolContext, items: list[Any], places: Resolver, layer: str | None, map_id: str | None
) -> tuple[list[Feature], list[RouteDrawing]]:
    """The items' features, routes as straight lines for now; a route's stop that a marker
    already stands on (on the map, or anywhere in this call, before or after the route) is that
    marker."""
    features: list[Feature] = []
    drawings: list[RouteDrawing] = []
    markers: Markers | None = None
    stops: set[int] = set()  # stop markers this call made, which a marker item later stands for
    if any(isinstance(raw, dict) and raw.get("type") == "route" for raw in items):
        on_map = (await tc.entry(map_id)).state.features.values() if map_id is not None else ()
        markers = Markers(f for f in on_map if f.type == "marker")
    for index, raw in enumerate(items):
        drawn = read_item(index, raw, places, layer, tc.hub.limits)
        if markers is None:
            features += drawn
            continue
        if raw.get("type") != "route":
            for feature in drawn:
                twin = markers.find(feature.coords) if feature.type == "marker" else None
                if isinstance(twin, int) and twin in stops:
                    features[twin] = feature  # a route's stop drawn earlier in this call: this is it
                    stops.discard(twin)
                    continue
                if feature.type == "marker":
                    markers.add(feature.coords, len(features))
                features.append(feature)
            continue
        drawing = RouteDrawing(index, len(features), names=[stop.label for stop in drawn[1:]])
        features.append(drawn[0])
        for stop in drawn[1:]:
            twin = markers.find(stop.coords)
            if twin is None:
                twin = len(features)
                markers.add(stop.coords, twin)
                stops.add(twin)
                features.append(stop)
            drawing.stops.append(twin)
        drawings.append(drawing)
    return features, drawings


async def edit(
    tc: ToolContext,
    map_id: MapId,
    changes: Changes,
    expected_version: Expected = None,
    base_version: Base = None,
) -> CallToolResult:
    """Change features by id, all or none; fields left out stay. dash: false makes a line solid."""
    places = await Resolver.open(tc, _geometries(changes), map_id)
    held = (await tc.entry(map_id)).state.features
    ids = [c.get("id") for c in changes if isinstance(c, dict)]
    types = {fid: held[fid].type for fid in ids if isinstance(fid, str) and fid in held}
    ops = [read_change(index, raw, places, tc.hub.limits, types) for index, raw in enumerate(changes)]
    # A route's line given new points numbers its stops by them, in the same undoable change.
    stops = [
        stop
        for op in ops
        if op.coords is not None and op.type is None and op.id in held and held[op.id].type == "polyline"
        for stop in stops_renumbered(held, held[op.id], op.coords)
    ]
    out = await tc.write(map_id, [*ops, *stops], expected_version, base_version)
    if stops:
        out["renumbered"] = [stop.id for stop in stops]
    return answer(out)


async def remove(
    tc: ToolContext,
    map_id: MapId,
    ids: FeatureIds = None,
    layer: Annotated[str | None, Field(description="remove this layer and its features")] = None,
    everything: Annotated[bool, Field(description="remove every feature; layers stay")] = False,
    expected_version: Expected = None,
    base_version: Base = None,
) -> CallToolResult:
    """Remove features by id, a whole layer, or everything. Exactly one."""
    given = [name for name, value in (("ids", ids), ("layer", layer), ("everything", everything)) if value]
    if len(given) != 1:
        raise InvalidInput(
            f"remove must get exactly one of ids, layer, everything, got {', '.join(given) or 'none'};"
            " give one per call"
        )
    if ids:
        if any("-" in fid for fid in ids):  # runs of ids, f1-f177, as an import answers them
            ids = expanded(ids, (await tc.entry(map_id)).state.features)
        op: Op = RemoveFeatures(tuple(check_id("feature", fid) for fid in ids))
    elif layer == DEFAULT_LAYER:
        op = Clear(DEFAULT_LAYER)  # the default layer stays; its features go
    elif layer:
        op = RemoveLayer(check_id("layer", layer))
    else:
        op = Clear(None)
    return answer(await tc.write(map_id, [op], expected_version, base_version))
