"""Routes along the roads (``draw``'s route items), the areas reachable within some minutes
(``reachable``) and distances and times between places (``travel_times``), from the router
``--router`` names (``mapsrv.routing``).

A route item is routed before anything is drawn: the router down, no road near a stop or a route
past the router's limits is a tool error and the map is untouched. Its stops are numbered markers
unless a marker is already drawn there (on the map, or earlier in the same drawing): that marker
stands for the stop instead of a second one with the same name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.measure import distance
from mapsrv.core.model import Feature, LatLon, build_feature, check_color, check_id
from mapsrv.core.ops import FitBounds, ImportFeatures, Op
from mapsrv.core.routes import duration_words, length_words
from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.places import Resolver
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.route_plans import MAX_STOPS, RouteDrawing, along, check_mode, plan_routes, route_answer
from mapsrv.mcp.tools.schema import Expected, OptionalMapId, PlaceOrPoint
from mapsrv.routing import Router

__all__ = [
    "MAX_STOPS",
    "NO_ROUTER",
    "Markers",
    "RouteDrawing",
    "along",
    "check_mode",
    "plan_routes",
    "reachable",
    "route_answer",
    "travel_times",
]

log = logging.getLogger("mapsrv.routing")

MAX_CONTOURS = 4  # Valhalla's default limit
MAX_MINUTES = 120  # Valhalla's default isochrone limit for a car
MAX_PLACES = 25  # per side of travel_times
SAME_PLACE_M = 30.0  # a stop this close to a drawn marker is that marker
NO_ROUTER = (
    "straight lines: this server has no router (its operator starts it with --router"
    " valhalla+http://HOST:PORT for routes along the roads)"
)
_CONTOUR_COLORS = ("#16a34a", "#ca8a04", "#ea580c", "#dc2626")  # nearest first: green to red

By = Annotated[Literal["car", "bike", "foot"], Field(description="how: car (default), bike or foot")]


def _router(tc: ToolContext, what: str) -> Router:
    if tc.router is None:
        raise InvalidInput(
            f"{what} needs a routing engine and this server has none; its operator starts mapsrv with"
            " --router valhalla+http://HOST:PORT (docs/routing.md)"
        )
    return tc.router


class Markers:
    """The markers a route's stops may stand on: the map's and the drawing's so far, by place
    (cells of ``CELL`` degrees: a stop looks at its own cell and the next ones, never at every
    marker of a big map)."""

    CELL = 0.001  # degrees: ~111 m of latitude, more than SAME_PLACE_M

    def __init__(self, markers: Iterable[Feature] = ()) -> None:
        self._cells: dict[tuple[int, int], list[tuple[LatLon, int | str]]] = {}
        for marker in markers:
            self.add(marker.coords, marker.id)

    def _cell(self, point: LatLon) -> tuple[int, int]:
        return math.floor(point[0] / self.CELL), math.floor(point[1] / self.CELL)

    def add(self, point: LatLon, ref: int | str) -> None:
        self._cells.setdefault(self._cell(point), []).append((point, ref))

    def find(self, point: LatLon) -> int | str | None:
        """The first marker within ``SAME_PLACE_M`` of ``point``, or None."""
        row, column = self._cell(point)
        metres_per_cell = max(self.CELL * 111_320 * math.cos(math.radians(min(abs(point[0]), 89.9))), 1e-3)
        wide = min(math.ceil(SAME_PLACE_M / metres_per_cell), 360)  # cells east and west to look at
        for r in (row - 1, row, row + 1):
            for c in range(column - wide, column + wide + 1):
                for where, ref in self._cells.get((r, c), ()):
                    if distance([where, point]) <= SAME_PLACE_M:
                        return ref
        return None


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
    places = await Resolver.open(tc, at, map_id)
    point = places.point("at", at)
    fill = None if color is None else check_color("color", color)
    lid = check_id("layer", layer or "reachable")
    contours = await router.reachable(point, times, mode)
    limits = tc.hub.limits
    features = []
    for contour in sorted(contours, key=lambda c: -c.minutes):  # the largest below, drawn first
        rank = times.index(contour.minutes) if contour.minutes in times else len(times) - 1
        tint = fill or _CONTOUR_COLORS[min(rank, len(_CONTOUR_COLORS) - 1)]
        kind, coords = contour.geometry
        features.append(
            build_feature(
                id="",
                type=kind,
                coords=coords,
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
    reached = [p for f in features for p in f.points()]
    south, north = min(p[0] for p in reached), max(p[0] for p in reached)
    west, east = min(p[1] for p in reached), max(p[1] for p in reached)
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
        {"id": fid, "minutes": dict(f.properties)["minutes"], "points": f.point_count()}
        for fid, f in zip(ids, features, strict=False)
    ]
    out["by"] = mode
    if places.places:
        out.update(places.resolved())
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
    places = await Resolver.open(tc, [origins, destinations])
    sources = places.points("origins", origins)
    targets = places.points("destinations", destinations)
    matrix = await router.matrix(sources, targets, mode)
    names = [_label(v) for v in destinations]
    rows = []
    for i, origin in enumerate(origins):
        km = [None if d is None else round(d / 1000, 2) for d in matrix.distances_m[i]]
        minutes = [None if t is None else round(t / 60, 1) for t in matrix.durations_s[i]]
        row: dict[str, Any] = {"from": _label(origin), "km": km, "min": minutes}
        reached = [j for j, m in enumerate(minutes) if m is not None and km[j] is not None]
        if reached:
            row["nearest"] = names[min(reached, key=lambda j: minutes[j])]  # type: ignore[arg-type,return-value]
        rows.append(row)
    out: dict[str, Any] = {"by": mode, "destinations": names, "rows": rows}
    if any(None in row["min"] for row in rows):
        out["null"] = f"no way by {mode} between those places"
    if places.places:
        out.update(places.resolved())
    return answer(out)


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 2:
        return f"[{value[0]}, {value[1]}]"
    return str(value)[:40]


def _short(metres: float, seconds: float) -> str:
    return f"{length_words(metres)}, {duration_words(seconds)}"
