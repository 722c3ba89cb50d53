"""The spatial tools: ``select`` (which features are in an area, touch a feature, are near a
place, or are nearest) and ``derive`` (buffers, unions, overlaps, hulls and centroids drawn as
new features). The geometry is ``mapsrv.spatial``'s; here are the arguments and the answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import shapely
from mcp.types import CallToolResult
from pydantic import Field, WithJsonSchema
from shapely.geometry.base import BaseGeometry

from mapsrv.core.geometry import is_area
from mapsrv.core.id_ranges import expanded
from mapsrv.core.model import Feature, LatLon, MapState, build_feature, check_bounds, check_id
from mapsrv.core.ops import ImportFeatures
from mapsrv.errors import InvalidInput, NotFound
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.extract_borders import exact_border
from mapsrv.mcp.tools.marking import MARK_LAYER, mark_ops
from mapsrv.mcp.tools.outlines import Area, area_named, area_of
from mapsrv.mcp.tools.pages import cursor_for, read_cursor
from mapsrv.mcp.tools.places import Resolver, map_anchors
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import Expected, MapId
from mapsrv.places.offline_areas import IndexArea
from mapsrv.spatial import OPERATIONS, index_of
from mapsrv.spatial import derive as derived_from
from mapsrv.spatial.derive import AREAS, MAX_VERTICES
from mapsrv.spatial.index import FeatureIndex, cached
from mapsrv.spatial.select import HALF_EARTH_M, Selection, select_near, select_touching, select_within
from mapsrv.spatial.shapes import feature_geometry
from mapsrv.workers import run

__all__ = ["MAX_SELECTED", "derive", "select"]

MAX_SELECTED = 200  # features listed in an answer; ``count`` says how many there were
THREAD_FEATURES = 1_000  # maps from which the index is built in a worker thread (100,000: ~0.5 s)
_LABEL = 40  # characters of a label in an answer

_POINT: dict[str, Any] = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_PLACE_OR_ID: dict[str, Any] = {"anyOf": [_POINT, {"type": "string"}]}
_BOX: dict[str, Any] = {"type": "array", "items": _POINT, "minItems": 2, "maxItems": 2}
Within = Annotated[
    Any,
    WithJsonSchema({"anyOf": [_BOX, {"type": "string"}], "description": "area id, place or [[s,w],[n,e]]"}),
]
Near = Annotated[Any, WithJsonSchema({**_PLACE_OR_ID, "description": "[lat, lon], place or feature id"})]


async def select(
    tc: ToolContext,
    map_id: MapId,
    within: Within = None,
    intersects: Annotated[str | None, Field(description="a feature id")] = None,
    near: Near = None,
    km: Annotated[float | None, Field(description="with near: at most this far")] = None,
    nearest: Annotated[int | None, Field(description="with near: this many nearest")] = None,
    layer: Annotated[str | None, Field(description="only this layer")] = None,
    mark: Annotated[bool | None, Field(description="outline them; false: clear")] = None,
    cursor: str | None = None,  # the answer's cursor when its list was cut: the next page
) -> CallToolResult:
    """A map's features within an area, intersecting a feature, or near a point (within km, or the N
    closest): ids, labels, km, closest first."""
    given = [
        name
        for name, value in (("within", within), ("intersects", intersects), ("near", near))
        if value is not None
    ]
    if len(given) != 1:
        raise InvalidInput(
            f"select must get exactly one of within, intersects, near, got {', '.join(given) or 'none'};"
            " give one per call"
        )
    if near is None and (km is not None or nearest is not None):
        raise InvalidInput(f"km and nearest go with near, got them with {given[0]}; give near too")
    state = (await tc.entry(map_id)).state
    if layer is not None and check_id("layer", layer) not in state.layers:
        raise InvalidInput(
            f"layer must be a layer of this map, got {layer!r:.40}; it has {', '.join(state.layers)}"
        )
    index = await _index(state)
    places: Resolver | None = None
    named: Area | IndexArea | None = None
    border = None
    if within is not None:
        chosen, named, border = await _within_named(tc, state, index, within, layer)
        if chosen is None:
            shape, skip, places, named = await _area(tc, state, map_id, within)
            chosen = await run("geometry", select_within, index, shape, layer, skip)
    elif intersects is not None:
        touched = _feature(state, "intersects", intersects)
        chosen = await run(
            "geometry", lambda: select_touching(index, feature_geometry(touched), intersects, layer)
        )
    else:
        chosen, places = await _near(tc, state, index, map_id, near, km, nearest, layer)
    offset = read_cursor(cursor, [within, intersects, near, km, nearest, layer])
    out: dict[str, Any] = {"map_id": map_id, "version": state.version, "count": chosen.count}
    listed = chosen.top(MAX_SELECTED, offset)
    out["features"] = [_brief(found.feature, found.metres) for found in listed]
    shown = offset + len(listed)
    if shown < chosen.count:
        asked = [within, intersects, near, km, nearest, layer]
        out["cursor"] = cursor_for(shown, asked)
        out["note"] = (
            f"features {offset + 1} to {shown} of {chosen.count} (an answer lists {MAX_SELECTED} at most);"
            " give cursor for the next"
        )
    if mark is not None:
        await _mark(tc, map_id, state, chosen, bool(mark), out)
    if places is not None and places.places:
        out.update(places.resolved())
    if named is not None:
        out["area"] = named.to_json() | ({"border": border} if border else {})
    return answer(out)


async def _mark(
    tc: ToolContext, map_id: str, state: MapState, chosen: Selection, mark: bool, out: dict[str, Any]
) -> None:
    """Outlines every feature chosen (not only the page listed), as far as the map has room."""
    marks = sum(1 for f in state.features.values() if f.layer == MARK_LAYER)
    room = max(0, tc.hub.limits.max_features - (len(state.features) - marks))
    features = [found.feature for found in chosen.top(min(chosen.count, room))] if mark else []
    ops = mark_ops(state, features)
    if ops:
        written = await tc.write(map_id, ops, None)
        out["version"], out["view_url"] = written["version"], written["view_url"]
    out["marked"] = len(features)
    if mark and len(features) < chosen.count:
        out["note"] = (
            f"marked {len(features)} of {chosen.count}: the map has room for {room} more features"
            " (max_features); select fewer, or delete some"
        )


async def _index(state: MapState) -> FeatureIndex:
    if len(state.features) > THREAD_FEATURES and not cached(state):
        return await run("geometry", index_of, state)
    return index_of(state)


def _brief(feature: Feature, metres: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": feature.id, "type": feature.type}
    if feature.label:
        out["label"] = feature.label[:_LABEL]
    if metres is not None:
        out["km"] = round(metres / 1000, 3)
    return out


def _feature(state: MapState, name: str, fid: Any) -> Feature:
    feature = state.features.get(fid) if isinstance(fid, str) else None
    if feature is None:
        raise NotFound(f"{name} must name a feature on this map, got {fid!r:.40}; read the map for its ids")
    return feature


async def _within_named(
    tc: ToolContext, state: MapState, index: FeatureIndex, within: Any, layer: str | None
) -> tuple[Selection | None, Area | None, str | None]:
    """A country or region ``within`` names (``area_named``), the features in it, and where its
    border came from: "extract" when an imported extract has it exactly (``extract_borders``),
    else None (Natural Earth's). In one worker call when no extract is imported (a state's answer
    on a 100,000-marker map is about a millisecond, and a second hop to a worker was 0.2 ms of
    it). (None, None, None) when it names neither (a feature, an extract's area, a place, a box)."""
    if not isinstance(within, str) or within in state.features:
        return None, None, None
    points = map_anchors(state).anchors
    if not tc.places.holds_extracts():

        def named_within() -> tuple[Selection | None, Area | None, None]:
            named = area_named(within, points)
            return (
                (None, None, None)
                if named is None
                else (select_within(index, named.shape, layer, None), named, None)
            )

        return await run("geometry", named_within)
    named = await run("geometry", area_named, within, points)
    if named is None:
        return None, None, None
    exact = await exact_border(tc, named, points)
    chosen = await run("geometry", select_within, index, named.shape if exact is None else exact, layer, None)
    return chosen, named, None if exact is None else "extract"


async def _area(
    tc: ToolContext, state: MapState, map_id: str, within: Any
) -> tuple[BaseGeometry | tuple[LatLon, float], str | None, Resolver | None, Area | IndexArea | None]:
    """The area ``within`` names: a feature's, a country's or a region's (by name or code, the
    map's country deciding), an imported extract's (a city's boundary, a district, a park: after
    countries and regions, so "Uusimaa" stays the region), a box; a city whose name is also its
    country's region's is the region (New York, Washington)."""
    if isinstance(within, str) and within in state.features:
        feature = state.features[within]
        if not is_area(feature.type):
            raise InvalidInput(
                f"within must name an area ({', '.join(AREAS)}), got {feature.type} {within!r};"
                " use intersects, or near with km"
            )
        if feature.type == "circle":
            return (feature.coords, float(feature.radius or 0.0)), within, None, None
        return (
            await run("geometry", lambda: shapely.make_valid(feature_geometry(feature))),
            within,
            None,
            None,
        )
    if isinstance(within, str):
        points = map_anchors(state).anchors  # a country or region was looked for: _within_named
        extract = await tc.places.area_named(within, points)  # a city's boundary, a district, a park
        if extract is not None:
            return await tc.places.outline(extract), None, None, extract
        places = await Resolver.open(tc, [within], map_id)
        place = places.place("within", within)
        named = await run("geometry", area_of, place)
        if named is not None:
            return named.shape, None, places, named
        if place.bounds is None:
            raise InvalidInput(
                f"within must be an area: a feature id, a country or state (a name or an ISO code such"
                f" as US-NY), or [[s,w],[n,e]], got {within!r:.40}, a {place.kind} with no area here;"
                " use near with km around it"
            )
        (s, w), (n, e) = place.bounds
        return shapely.box(w, s, e, n), None, places, None
    (s, w), (n, e) = check_bounds("within", within)
    return shapely.box(w, s, e, n), None, None, None


async def _near(
    tc: ToolContext,
    state: MapState,
    index: FeatureIndex,
    map_id: str,
    near: Any,
    km: float | None,
    nearest: int | None,
    layer: str | None,
) -> tuple[Selection, Resolver | None]:
    if km is None and nearest is None:
        raise InvalidInput("near needs km or nearest, got neither; e.g. km: 10, or nearest: 3")
    if km is not None and not 0 < km <= HALF_EARTH_M / 1000:
        raise InvalidInput(
            f"km must be more than 0 and at most {HALF_EARTH_M / 1000:.0f}, got {km}; give a distance"
        )
    if nearest is not None and not 1 <= nearest <= MAX_SELECTED:
        raise InvalidInput(f"nearest must be between 1 and {MAX_SELECTED}, got {nearest}; ask for fewer")
    within_m = None if km is None else km * 1000
    if isinstance(near, str) and near in state.features:
        shape = feature_geometry(state.features[near])
        return select_near(index, shape, within_m, nearest, layer, skip=near), None
    places = await Resolver.open(tc, [near], map_id)
    point = places.point("near", near)
    return select_near(index, point, within_m, nearest, layer), places


Operation = Annotated[Literal[OPERATIONS], Field(description="difference: the first minus the rest")]  # type: ignore[valid-type]


async def derive(
    tc: ToolContext,
    map_id: MapId,
    op: Operation,
    ids: Annotated[list[str], Field(min_length=1, description="ids, or runs f1-f9")],
    km: Annotated[float | None, Field(description="buffer distance")] = None,
    layer: Annotated[str | None, Field(description="default: the first feature's")] = None,
    expected_version: Expected = None,
) -> CallToolResult:
    """New features from features: buffer (km), union, intersection, difference of areas, convex hull,
    centroid (a marker). One undoable change."""
    state = (await tc.entry(map_id)).state
    features = [_feature(state, f"ids[{i}]", fid) for i, fid in enumerate(expanded(ids, state.features))]
    made = await run("geometry", derived_from, op, features, km)
    if made.empty:
        return answer(
            {
                "map_id": map_id,
                "version": state.version,
                "empty": True,
                "note": f"the {op} is empty: nothing drawn",
            }
        )
    into = check_id("layer", layer or features[0].layer)
    popup = f"{op}{f' {km:g} km' if km is not None else ''} of {', '.join(ids)}"[:200]
    kind, coords = made.geometry
    drawn = build_feature(id="", type=kind, coords=coords, layer=into, popup=popup, limits=tc.hub.limits)
    out = await tc.write(map_id, [ImportFeatures((drawn,))], expected_version)
    if made.polygons:
        out["area_km2"] = round(made.area_m2 / 1e6, 4)
    notes = []
    if made.repaired:
        notes.append(f"{made.repaired} self-crossing outline{'s' * (made.repaired > 1)} made valid first")
    if len(made.polygons) > 1:
        notes.append(f"one multipolygon of {len(made.polygons)} parts")
    if made.holes:
        notes.append(f"with {made.holes} hole{'s' * (made.holes > 1)}")
    if made.split_at_180:
        notes.append("cut at the 180th meridian")
    if made.simplified_m is not None:
        notes.append(f"simplified by {made.simplified_m:.0f} m to {MAX_VERTICES} corners at most")
    if notes:
        out["note"] = "; ".join(notes)
    return answer(out)
