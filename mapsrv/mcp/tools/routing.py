"""Routes along the roads (``draw``'s route items), the areas reachable within some minutes
(``reachable``) and distances and times between places (``travel_times``), from the router
``--router`` names (``mapsrv.routing``).

A route item is routed before anything is drawn: the router down, no road near a stop or a route
past the router's limits is a tool error and the map is untouched. Its stops are numbered markers
unless a marker is already drawn there (on the map, or earlier in the same drawing): that marker
stands for the stop instead of a second one with the same name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import trio
from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.measure import distance
from mapsrv.core.model import Feature, LatLon, build_feature, check_color, check_id
from mapsrv.core.ops import FitBounds, ImportFeatures, Op
from mapsrv.core.routes import MODES, Mode, describe, duration_words, length_words
from mapsrv.errors import InvalidInput, MapsrvError
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.places import Resolver, places_ready
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import Expected, OptionalMapId, PlaceOrPoint
from mapsrv.routing import Route, Router, RouteRefused

__all__ = [
    "MAX_STOPS",
    "NO_ROUTER",
    "RouteDrawing",
    "check_mode",
    "plan_routes",
    "reachable",
    "reuse_stops",
    "route_answer",
    "travel_times",
]

MAX_STOPS = 20  # stops per route: Valhalla's default limit, and more than a trip plan needs
ROUTES_AT_ONCE = 8  # a drawing's routes asked for at once: one call does not take the whole engine
MAX_STEPS = 20  # directions listed per route; the rest are counted
MAX_CONTOURS = 4  # Valhalla's default limit
MAX_MINUTES = 120  # Valhalla's default isochrone limit for a car
MAX_PLACES = 25  # per side of travel_times
SAME_PLACE_M = 30.0  # a stop this close to a drawn marker is that marker
NO_ROUTER = (
    "straight lines: this server has no router (start it with --router valhalla+http://HOST:PORT"
    " for routes along the roads)"
)
_CONTOUR_COLORS = ("#16a34a", "#ca8a04", "#ea580c", "#dc2626")  # nearest first: green to red

By = Annotated[Literal["car", "bike", "foot"], Field(description="how: car (default), bike or foot")]


def check_mode(name: str, value: Any) -> Mode:
    if value is None:
        return "car"
    if value not in MODES:
        raise InvalidInput(f"{name} must be one of {', '.join(MODES)}, got {value!r:.40}; pick one")
    return value  # type: ignore[no-any-return]


def _router(tc: ToolContext, what: str) -> Router:
    if tc.router is None:
        raise InvalidInput(
            f"{what} needs a routing engine and this server has none; its operator starts mapsrv with"
            " --router valhalla+http://HOST:PORT (README: routing)"
        )
    return tc.router


async def plan_routes(router: Router | None, items: Sequence[Any], places: Resolver) -> dict[int, Route]:
    """The road route of each route item, by item index (none without a router). Every route is
    asked for before anything is drawn, all at once, so a failure draws nothing."""
    asked: dict[int, tuple[list[LatLon], Mode]] = {}
    for index, raw in enumerate(items):
        if not (isinstance(raw, Mapping) and raw.get("type") == "route"):
            continue
        name = f"items[{index}]"
        by = check_mode(f"{name}.by", raw.get("by"))
        if router is None or "points" not in raw:
            continue  # read_item explains a missing points field
        stops = places.points(f"{name}.points", raw["points"])
        if len(stops) < 2:
            continue  # read_item asks for another stop
        if len(stops) > MAX_STOPS:
            raise InvalidInput(
                f"{name}.points has {len(stops)} stops, more than the {MAX_STOPS} a route may have;"
                " draw it as several routes"
            )
        asked[index] = (stops, by)
    routes: dict[int, Route] = {}
    if router is None or not asked:
        return routes

    failed: dict[int, MapsrvError] = {}
    limiter = trio.CapacityLimiter(ROUTES_AT_ONCE)

    async def one(index: int, stops: list[LatLon], by: Mode) -> None:
        try:
            async with limiter:
                routes[index] = await router.route(stops, by)
        except RouteRefused as refused:
            failed[index] = RouteRefused(f"items[{index}]: {refused.message}")
        except MapsrvError as exc:  # raised after the others finish: a nursery would group them
            failed[index] = exc

    async with trio.open_nursery() as nursery:
        for index, (stops, by) in asked.items():
            nursery.start_soon(one, index, stops, by)
    if failed:
        raise failed[min(failed)]
    return routes


@dataclass
class RouteDrawing:
    """A route item as drawn: its line's place in the drawing, its stops (a feature's place in
    the drawing, or the id of the marker already there) and the road route, if routed."""

    item: int
    line_at: int
    route: Route | None
    stops: list[int | str] = field(default_factory=list)


def reuse_stops(drawn: list[Feature], markers: list[Feature]) -> tuple[list[Feature], list[int | str]]:
    """The route's features without the stop markers a drawn marker stands for (within
    ``SAME_PLACE_M``); and each stop as its position in what is kept or the drawn marker's id."""
    line, stops = drawn[0], drawn[1:]
    kept: list[Feature] = [line]
    where: list[int | str] = []
    for stop in stops:
        twin = next((m for m in markers if _near(m.coords, stop.coords)), None)
        if twin is not None and twin.id:
            where.append(twin.id)
        else:
            where.append(len(kept))
            kept.append(stop)
    return kept, where


_NEAR_DEGREES = SAME_PLACE_M / 111_000 * 1.5  # a box a little larger than SAME_PLACE_M, in latitude


def _near(a: LatLon, b: LatLon) -> bool:
    """Within ``SAME_PLACE_M``: a box test first (a map's many markers cost a subtraction each),
    the geodesic for the few inside it."""
    if abs(a[0] - b[0]) > _NEAR_DEGREES:
        return False
    stretch = max(math.cos(math.radians(max(abs(a[0]), abs(b[0])))), 1e-6)
    if abs(a[1] - b[1]) * stretch > _NEAR_DEGREES and abs(abs(a[1] - b[1]) - 360) * stretch > _NEAR_DEGREES:
        return False
    return distance([a, b]) <= SAME_PLACE_M


def _steps(route: Route) -> list[str]:
    lines = [
        step.instruction + (f" ({length_words(step.distance_m)})" if step.distance_m >= 1 else "")
        for step in route.steps
        if step.instruction
    ]
    if len(lines) > MAX_STEPS:
        lines = [*lines[: MAX_STEPS - 1], f"... {len(lines) - MAX_STEPS + 1} more steps, then arrive"]
    return lines


def route_answer(drawing: RouteDrawing, ids: Sequence[str], first: int) -> dict[str, Any]:
    """What ``draw`` answers about one route: its line's id, distance, time, directions and stop
    ids (``ids``: the drawing's feature ids, the first at ``first``)."""
    out: dict[str, Any] = {"id": ids[first + drawing.line_at] if first + drawing.line_at < len(ids) else ""}
    stops = [s if isinstance(s, str) else ids[first + drawing.line_at + s] for s in drawing.stops]
    out["stops"] = stops
    route = drawing.route
    if route is None:
        out["along"] = NO_ROUTER
        return out
    out.update(
        by=route.by,
        distance_km=round(route.distance_m / 1000, 3),
        duration_min=round(route.duration_s / 60, 1),
        summary=describe(route.distance_m, route.duration_s, route.by),
        directions=_steps(route),
    )
    return out


async def reachable(
    tc: ToolContext,
    at: PlaceOrPoint,
    minutes: Annotated[
        list[float],
        Field(description=f"up to {MAX_CONTOURS} times, e.g. [10, 20, 30]; at most {MAX_MINUTES}"),
    ],
    by: By = "car",
    map_id: OptionalMapId = None,
    layer: Annotated[str | None, Field(description="default: reachable")] = None,
    color: Annotated[str | None, Field(description="one colour for every area; default green to red")] = None,
    expected_version: Expected = None,
) -> CallToolResult:
    """Draw the areas reachable from a point or place within some minutes by car, bike or foot
    along the roads (isochrones), nearest first. Needs the server's router."""
    router = _router(tc, "reachable")
    mode = check_mode("by", by)
    if not isinstance(minutes, list) or not 1 <= len(minutes) <= MAX_CONTOURS:
        raise InvalidInput(
            f"minutes must be a list of 1 to {MAX_CONTOURS} numbers, got {minutes!r:.60}; e.g. [15, 30]"
        )
    for i, m in enumerate(minutes):
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 1 <= m <= MAX_MINUTES:
            raise InvalidInput(f"minutes[{i}] must be from 1 to {MAX_MINUTES}, got {m!r:.40}; e.g. 15")
    times = sorted(set(float(m) for m in minutes))
    if Resolver.needed(at):
        await places_ready()
    places = Resolver()
    point = places.point("at", at)
    fill = None if color is None else check_color("color", color)
    lid = check_id("layer", layer or "reachable")
    contours = await router.reachable(point, times, mode)
    limits = tc.hub.limits
    features = []
    for contour in sorted(contours, key=lambda c: -c.minutes):  # the largest below, drawn first
        rank = times.index(contour.minutes) if contour.minutes in times else len(times) - 1
        tint = fill or _CONTOUR_COLORS[min(rank, len(_CONTOUR_COLORS) - 1)]
        features.append(
            build_feature(
                id="",
                type="polygon",
                coords=contour.ring,
                layer=lid,
                label=f"{contour.minutes:g} min by {mode}",
                style={"color": tint, "fill_color": tint, "fill_opacity": 0.2, "weight": 2},
                properties={"by": mode, "minutes": contour.minutes},
                limits=limits,
            )
        )
    marker = build_feature(
        id="", type="marker", coords=point, layer=lid, label=_name(at, places), limits=limits
    )
    ops: list[Op] = [ImportFeatures((*features, marker))]
    rings = [p for f in features for p in f.coords]
    south, north = min(p[0] for p in rings), max(p[0] for p in rings)
    west, east = min(p[1] for p in rings), max(p[1] for p in rings)
    ops.append(FitBounds(bounds=((south, west), (north, east))))
    url = None
    if map_id is None:
        entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, maker=tc.actor.id)
        map_id, url = entry.id, tc.links(entry)[0]
    out = await tc.write(map_id, ops, expected_version)
    if url is not None:
        out["url"] = url
    ids = out.pop("ids", [])
    out["areas"] = [
        {"id": fid, "minutes": dict(f.properties)["minutes"], "points": len(f.coords)}
        for fid, f in zip(ids, features, strict=False)
    ]
    out["by"] = mode
    if places.places:
        out["places"] = places.resolved()
    return answer(out)


def _name(value: Any, places: Resolver) -> str:
    return places.places[value].name if isinstance(value, str) and value in places.places else ""


async def travel_times(
    tc: ToolContext,
    origins: Annotated[list[Any], Field(description=f"[lat, lon]s or place names, up to {MAX_PLACES}")],
    destinations: Annotated[list[Any], Field(description=f"[lat, lon]s or place names, up to {MAX_PLACES}")],
    by: By = "car",
) -> CallToolResult:
    """Distance and time along the roads from each origin to each destination (a matrix), and the
    nearest destination of each origin: for "which of these is closest by car". Draws nothing."""
    router = _router(tc, "travel_times")
    mode = check_mode("by", by)
    for name, values in (("origins", origins), ("destinations", destinations)):
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_PLACES:
            raise InvalidInput(
                f"{name} must be a list of 1 to {MAX_PLACES} points or place names, got {values!r:.60};"
                ' e.g. ["Lisbon", [41.15, -8.61]]'
            )
    if Resolver.needed([origins, destinations]):
        await places_ready()
    places = Resolver()
    sources = places.points("origins", origins)
    targets = places.points("destinations", destinations)
    matrix = await router.matrix(sources, targets, mode)
    names = [_label(v) for v in destinations]
    rows = []
    for i, origin in enumerate(origins):
        cells = []
        for j, _target in enumerate(destinations):
            metres, seconds = matrix.distances_m[i][j], matrix.durations_s[i][j]
            cell: dict[str, Any] = {"to": names[j]}
            if metres is None or seconds is None:
                cell["none"] = f"no way by {mode}"
            else:
                cell.update(
                    km=round(metres / 1000, 2), min=round(seconds / 60, 1), text=_short(metres, seconds)
                )
            cells.append(cell)
        reached = [c for c in cells if "min" in c]
        row: dict[str, Any] = {"from": _label(origin), "to": cells}
        if reached:
            row["nearest"] = min(reached, key=lambda c: c["min"])["to"]
        rows.append(row)
    out: dict[str, Any] = {"by": mode, "rows": rows}
    if places.places:
        out["places"] = places.resolved()
    return answer(out)


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 2:
        return f"[{value[0]}, {value[1]}]"
    return str(value)[:40]


def _short(metres: float, seconds: float) -> str:
    return f"{length_words(metres)}, {duration_words(seconds)}"
