"""``draw``'s route items along the roads: each asked of the router before anything is drawn (the
router down, no road near a stop or a route past its limits is a tool error and the map is
untouched), in the order given or (``"order": "best"``) the quickest order between the first and
last stop, avoiding tolls, highways or ferries where asked, with the ground's heights along the
line when the router has elevation data. Without a router, ``"order": "best"`` puts the stops in
the shortest order by straight lines (``straight_orders``), and the answer says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from mapsrv.core.measure import distance
from mapsrv.core.model import Feature, LatLon, Limits
from mapsrv.core.ops import UpdateFeature
from mapsrv.core.routes import MODES, Mode, climb, describe, length_words
from mapsrv.core.style import check_style
from mapsrv.core.tours import shortest_order
from mapsrv.errors import InvalidInput, MapsrvError
from mapsrv.formats.simplify import simplify
from mapsrv.mcp.tools.places import Resolver
from mapsrv.routing import Route, Router, RouteRefused, RouterUnavailable
from mapsrv.routing.lines import elevations, redrawn
from mapsrv.routing.valhalla import AVOID

__all__ = [
    "MAX_BEST",
    "MAX_STOPS",
    "RouteDrawing",
    "along",
    "check_mode",
    "plan_routes",
    "renumber",
    "route_answer",
    "stops_renumbered",
    "straight_orders",
]

log = logging.getLogger("mapsrv.routing")

MAX_STOPS = 20  # stops per route: Valhalla's default limit, and more than a trip plan needs
MAX_BEST = 12  # stops of a route put in the best order: the optimizer's answer stays quick
ROUTES_AT_ONCE = 8  # a drawing's routes asked for at once: one call does not take the whole engine
MAX_STEPS = 20  # directions listed per route; the rest are counted
STOP_AT_M = 30.0  # a numbered marker this close to a route's point is its stop (routing.SAME_PLACE_M)
THIN_FROM = 5_000  # road points from which a route's line is thinned
THIN_TO_M = 2.0  # ... to this tolerance: still on the road at any zoom a street is drawn at
ORDERS = ("given", "best")


def check_mode(name: str, value: Any) -> Mode:
    if value is None:
        return "car"
    if value not in MODES:
        raise InvalidInput(f"{name} must be one of {', '.join(MODES)}, got {value!r:.40}; pick one")
    return value  # type: ignore[no-any-return]


def _avoid(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or any(not isinstance(v, str) or v not in AVOID for v in value):
        raise InvalidInput(f'{name} must be a list of {", ".join(AVOID)}, got {value!r:.60}; e.g. ["tolls"]')
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class _Asked:
    stops: list[LatLon]
    by: Mode
    avoid: tuple[str, ...]
    best: bool


def _read(index: int, raw: Mapping[str, Any], router: Router | None, places: Resolver) -> _Asked | None:
    name = f"items[{index}]"
    by = check_mode(f"{name}.by", raw.get("by"))
    avoid = _avoid(f"{name}.avoid", raw.get("avoid"))
    order = raw.get("order", "given")
    if order not in ORDERS:
        raise InvalidInput(f'{name}.order must be "given" or "best", got {order!r:.40}; pick one')
    if router is None and avoid:
        raise InvalidInput(
            f"{name}.avoid {list(avoid)!r:.60} needs a routing engine and this server has none; leave it"
            " out (stops are joined by straight lines)"
        )
    if (router is None and order != "best") or "points" not in raw:
        return None  # read_item explains a missing points field
    stops = places.points(f"{name}.points", raw["points"])
    if len(stops) < 2:
        return None  # read_item asks for another stop
    if len(stops) > MAX_STOPS:
        raise InvalidInput(
            f"{name}.points has {len(stops)} stops, more than the {MAX_STOPS} a route may have;"
            " draw it as several routes"
        )
    if router is not None and order == "best" and len(stops) > MAX_BEST:
        raise InvalidInput(
            f'{name}.points has {len(stops)} stops, more than the {MAX_BEST} "order": "best" puts in'
            " order; split the trip, or give the order yourself"
        )
    return _Asked(stops, by, avoid, order == "best")


def _thinned(route: Route) -> Route:
    if len(route.coords) <= THIN_FROM:
        return route
    return replace(route, coords=tuple(route.coords[i] for i in simplify(route.coords, THIN_TO_M)))


def straight_orders(items: Sequence[Any], places: Resolver) -> dict[int, tuple[int, ...]]:
    """The order taken by each route item with ``"order": "best"`` on a server without a router,
    by item index: the shortest by straight lines (great circles) from the first stop to the last."""
    orders: dict[int, tuple[int, ...]] = {}
    for index, raw in enumerate(items):
        if isinstance(raw, Mapping) and raw.get("type") == "route":
            wanted = _read(index, raw, None, places)
            if wanted is not None:
                metres = [[distance([a, b]) for b in wanted.stops] for a in wanted.stops]
                orders[index] = shortest_order(metres)
    return orders


async def plan_routes(router: Router | None, items: Sequence[Any], places: Resolver) -> dict[int, Route]:
    """The road route of each route item, by item index (none without a router). Every route is
    asked for before anything is drawn, all at once, so a failure draws nothing."""
    asked: dict[int, _Asked] = {}
    for index, raw in enumerate(items):
        if isinstance(raw, Mapping) and raw.get("type") == "route":
            wanted = _read(index, raw, router, places)
            if wanted is not None:
                asked[index] = wanted
    routes: dict[int, Route] = {}
    if router is None or not asked:
        return routes

    failed: dict[int, MapsrvError] = {}
    limiter = trio.CapacityLimiter(ROUTES_AT_ONCE)

    async def one(index: int, wanted: _Asked) -> None:
        try:
            async with limiter:
                reorder = wanted.best and len(wanted.stops) > 3  # else only one order keeps the ends
                route = _thinned(await router.route(wanted.stops, wanted.by, wanted.avoid, reorder))
                if wanted.best and not route.order:
                    route = replace(route, order=tuple(range(len(wanted.stops))))
                routes[index] = replace(route, elevations=await elevations(router, route.coords))
        except RouteRefused as refused:
            failed[index] = RouteRefused(f"items[{index}]: {refused.message}")
        except MapsrvError as exc:  # raised after the others finish: a nursery would group them
            failed[index] = exc
        except Exception:  # a router's answer nobody foresaw: logged here, a clear error there
            log.exception("the router's answer to items[%d] could not be read", index)
            failed[index] = RouterUnavailable("its answer could not be read", "route")

    # The router's timeout bounds each request; this bounds the drawing's routes together.
    with trio.move_on_after(2 * router.timeout) as waited:
        async with trio.open_nursery() as nursery:
            for index, wanted in asked.items():
                nursery.start_soon(one, index, wanted)
    if waited.cancelled_caught:
        raise RouterUnavailable(f"no answer within {router.timeout:g} s", "route")
    if failed:
        raise failed[min(failed)]
    return routes


@dataclass
class RouteDrawing:
    """A route item as drawn: its line's place in the drawing, its stops (a feature's place in
    the drawing, or the id of a marker already on the map) in the order given, their names, and
    the road route, once routed, or the order taken by straight lines (no router, "order": "best")."""

    item: int
    line_at: int
    stops: list[int | str] = field(default_factory=list)
    route: Route | None = None
    names: list[str] = field(default_factory=list)
    straight: tuple[int, ...] = ()

    @property
    def order(self) -> tuple[int, ...]:
        """The stops' given indexes in the order taken, when it was chosen ("order": "best")."""
        return self.route.order if self.route is not None and self.route.order else self.straight


def along(line: Feature, route: Route, limits: Limits, name: str) -> Feature:
    """``line`` along ``route``'s road, with its facts (and heights, with their climb)."""
    coords = _thinned(route).coords
    if len(coords) > limits.max_points:
        raise InvalidInput(
            f"{name}: the road has {len(coords)} points, more than the {limits.max_points} a line may"
            " have; draw the route in shorter pieces"
        )
    heights = route.elevations if len(route.elevations) == len(coords) else ()
    return redrawn(line, coords, dict(route.facts.properties()), heights, limits)


def renumber(features: list[Feature], drawing: RouteDrawing) -> None:
    """The stops of a route put in another order: the markers this route made numbered by the
    order taken."""
    if not drawing.order:
        return
    for i, ref in enumerate(drawing.stops):  # a stop standing on a marker goes by its name
        if isinstance(ref, int) and features[ref].label and i < len(drawing.names):
            drawing.names[i] = features[ref].label
    for taken, given in enumerate(drawing.order):
        ref = drawing.stops[given]
        if isinstance(ref, int) and dict(features[ref].style).get("symbol") == str(given + 1):
            style = {**dict(features[ref].style), "symbol": str(taken + 1)}
            features[ref] = replace(features[ref], style=check_style(style))


def stops_renumbered(
    features: Mapping[str, Feature], line: Feature, points: Sequence[LatLon]
) -> list[UpdateFeature]:
    """The changes that number a route's stop markers by ``points``, the new points of its line
    ``line``: each numbered marker of the line's layer at a new point takes that point's number.
    A line is a route's when its first point has the marker numbered 1 (as draw numbers them);
    any other line's edit changes no marker."""
    numbered = [
        f
        for f in features.values()
        if f.type == "marker" and f.layer == line.layer and str(dict(f.style).get("symbol", "")).isdigit()
    ]
    start = line.points()[0]
    if not any(dict(f.style)["symbol"] == "1" and distance([f.coords, start]) <= STOP_AT_M for f in numbered):
        return []
    changes: list[UpdateFeature] = []
    taken: set[str] = set()
    for number, point in enumerate(points, start=1):
        near = [(distance([f.coords, point]), f.id, f) for f in numbered if f.id not in taken]
        metres, _, stop = min(near, default=(math.inf, "", line))
        if metres > STOP_AT_M:
            continue  # a new stop, or a marker drawn by hand: nothing to number
        taken.add(stop.id)
        if dict(stop.style)["symbol"] != str(number):
            changes.append(UpdateFeature(id=stop.id, style={"symbol": str(number)}))
    return changes


def _steps(route: Route) -> tuple[list[str], str]:
    """The route's directions, at most ``MAX_STEPS`` lines, and why they were cut ("" if not)."""
    lines = [
        step.instruction + (f" ({length_words(step.distance_m)})" if step.distance_m >= 1 else "")
        for step in route.steps
        if step.instruction
    ]
    if len(lines) <= MAX_STEPS:
        return lines, ""
    cut = (
        f"the first {MAX_STEPS - 1} of {len(lines)} steps listed, to keep the answer small (the whole"
        " route is drawn); draw a route between two of its stops for that leg's directions"
    )
    return [*lines[: MAX_STEPS - 1], f"... {len(lines) - MAX_STEPS + 1} more steps, then arrive"], cut


def route_answer(drawing: RouteDrawing, ids: Sequence[str]) -> dict[str, Any]:
    """What ``draw`` answers about one route: its line's id, distance, time, directions, stop ids
    in the order taken (``ids``: the drawing's feature ids, in order) and its climb."""
    route = drawing.route
    taken = list(drawing.order) or list(range(len(drawing.stops)))
    stop_ids = [s if isinstance(s, str) else ids[s] for s in drawing.stops]
    out: dict[str, Any] = {"id": ids[drawing.line_at], "stops": [stop_ids[i] for i in taken]}
    if route is not None:
        out.update(
            by=route.by,
            distance_km=round(route.distance_m / 1000, 3),
            duration_min=round(route.duration_s / 60, 1),
            summary=describe(route.distance_m, route.duration_s, route.by),
        )
        out["directions"], cut = _steps(route)
        if cut:
            out["directions_cut"] = cut
        climbed = climb(route.elevations)
        if climbed is not None:
            out.update(climbed.properties())
    if drawing.order:
        names = drawing.names
        out["order"] = [{"stop": i, "name": names[i] if i < len(names) else ""} for i in taken]
    if drawing.straight:
        out["ordered_by"] = "straight-line distance: this server has no router"
    return out
