"""Valhalla (an open routing engine, MIT) over its HTTP service: ``/route`` (and
``/optimized_route``), ``/isochrone``, ``/sources_to_targets``, ``/trace_attributes`` (a track
put on the roads) and ``/height`` (elevation, from the SRTM tiles its operator gives it), asked
and answered in JSON.

Production runs Valhalla's own service (its container image, deploy/); the tests run the same
``valhalla_service`` from PyPI's ``pyvalhalla``. Valhalla answers a request it cannot route with
HTTP 400 and ``{"error_code": N, "error": "..."}``: the codes below become messages that name the
stop and say what to do. Anything else (refused, reset, slow past the timeout, 5xx, a body that is
not what Valhalla sends) is ``RouterUnavailable``: nothing is drawn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
import trio

from mapsrv.core.model import LatLon
from mapsrv.core.routes import Mode
from mapsrv.routing.model import Contour, Matched, Matrix, Route, RouteRefused, RouterUnavailable, Step
from mapsrv.routing.polyline import decode
from mapsrv.routing.tracks import positions

__all__ = ["AVOID", "COSTING", "ValhallaRouter", "isochrones"]

log = logging.getLogger("mapsrv.routing")

COSTING: dict[Mode, str] = {"car": "auto", "bike": "bicycle", "foot": "pedestrian"}
# What a route may avoid, as Valhalla's costing options (0: avoid where any other way exists; its
# hard exclusions are off unless the operator allows them). A mode without the option ignores it.
AVOID = {"tolls": "use_tolls", "highways": "use_highways", "ferries": "use_ferry"}
CONNECT_TIMEOUT = 2.0  # a router that does not accept within this is down
ANSWER_TIMEOUT = 20.0  # a continental route takes Valhalla a few seconds; past this it is hung

# Valhalla's error codes (its docs, "API reference: HTTP status and error codes")
_NO_ROAD = frozenset({171})  # "No suitable edges near location"
_NO_PATH = frozenset({170, 442, 443})  # "Locations are in unconnected regions", "No path could be found"
_NO_MATCH = frozenset({444})  # "Map Match algorithm failed to find path"
_TOO_FAR = frozenset({154})  # "Path distance exceeds the max distance limit"
_TOO_MANY = frozenset({150, 151, 157, 158, 167})  # locations, time, contours or distance of a request


# How far from a given point Valhalla looks for a road (its own default: 35 km). A point further
# than this from every road is refused ("no road near") rather than quietly moved to a road far
# away, while its marker stays where it was given (a point at sea, swapped coordinates).
SEARCH_CUTOFF_M = 5_000
_ASKED = {
    "/route": "route",
    "/optimized_route": "route",
    "/trace_attributes": "snap",
    "/height": "elevation",
    "/isochrone": "reachable",
    "/locate": "reachable",
    "/sources_to_targets": "travel_times",
}


def _location(point: LatLon) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1], "search_cutoff": SEARCH_CUTOFF_M}


def _at(point: LatLon) -> str:
    return f"[{point[0]:.5f}, {point[1]:.5f}]"


class ValhallaRouter:
    """One Valhalla service, reached through one pooled HTTP client."""

    def __init__(self, url: str, *, timeout: float = ANSWER_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.name = "valhalla+" + self.url
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
            headers={"Content-Type": "application/json"},
            trust_env=False,  # a router on the cluster's network, never through a proxy from the env
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """The status and JSON of Valhalla's answer; RouterUnavailable when none came."""
        try:
            # httpx's timeout bounds each read; this bounds the whole answer (a router that sends
            # a byte now and then would otherwise hold the call for ever)
            with trio.fail_after(self.timeout):
                response = await self._client.post(path, json=body)
        except (httpx.TimeoutException, trio.TooSlowError):
            log.warning("router %s: no answer to %s within %g s", self.name, path, self.timeout)
            raise RouterUnavailable(f"no answer within {self.timeout:g} s", _ASKED[path]) from None
        except httpx.HTTPError as exc:
            log.warning("router %s: %s on %s", self.name, type(exc).__name__, path)
            raise RouterUnavailable(f"it could not be reached: {type(exc).__name__}", _ASKED[path]) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _broken(self, path: str, status: int) -> RouterUnavailable:
        log.warning("router %s answered %s with HTTP %d", self.name, path, status)
        return RouterUnavailable(f"it answered HTTP {status}", _ASKED[path])

    def _unreadable(self, path: str) -> RouterUnavailable:
        log.warning("router %s sent an answer to %s mapsrv cannot read", self.name, path)
        return RouterUnavailable("its answer could not be read", _ASKED[path])

    async def _ask(self, path: str, body: dict[str, Any], points: Sequence[LatLon], by: Mode) -> Any:
        status, answer = await self._post(path, body)
        if status == 200 and isinstance(answer, dict):
            return answer
        if status == 400 and isinstance(answer, dict) and "error_code" in answer:
            raise self._refused(answer, points, by, _ASKED[path])
        raise self._broken(path, status)

    async def _ask_list(self, path: str, body: dict[str, Any]) -> list[Any]:
        """A request Valhalla answers with a JSON list (``/locate``)."""
        status, answer = await self._post(path, body)
        if status != 200 or not isinstance(answer, list):
            raise self._broken(path, status)
        return answer

    def _refused(
        self, answer: dict[str, Any], points: Sequence[LatLon], by: Mode, asked: str
    ) -> RouteRefused:
        code, said = answer.get("error_code"), str(answer.get("error", ""))[:120]
        if code in _NO_ROAD:
            return RouteRefused(
                f"no road for {by} near one of the points {', '.join(_at(p) for p in points[:10])}"
                f" (the router said: {said}); move the point onto a road, or try another mode"
            )
        if code in _NO_PATH:
            return RouteRefused(
                f"no way by {by} between the points (the router said: {said}); the roads may not"
                " connect (an island, a closed area): try by foot, or other points"
            )
        if code in _NO_MATCH or (asked == "snap" and code in _NO_PATH):
            return RouteRefused(
                f"no roads for {by} along the track (the router said: {said}); it may be off the roads"
                " this router knows, or taken another way: try another snap mode, or import without snap"
            )
        if code in _TOO_FAR:
            what, fix = {
                "route": ("the route is longer", "draw it as several shorter routes"),
                "reachable": ("the area is larger", "ask for fewer minutes"),
            }.get(asked, ("the places are further apart", "ask for places nearer each other"))
            return RouteRefused(f"{what} than this router allows by {by} (the router said: {said}); {fix}")
        if code in _TOO_MANY:
            return RouteRefused(
                f"the request is past this router's limits (the router said: {said}); ask for less"
            )
        return RouteRefused(f"the router refused the request: {said} (Valhalla error {code})")

    async def route(
        self, stops: Sequence[LatLon], by: Mode, avoid: Sequence[str] = (), best: bool = False
    ) -> Route:
        """The route through ``stops`` in order, or (``best``) through the first, the others in
        the quickest order, and the last; ``avoid``: keys of ``AVOID``."""
        body: dict[str, Any] = {
            "locations": [_location(p) for p in stops],
            "costing": COSTING[by],
            "units": "kilometers",
            "directions_options": {"units": "kilometers", "language": "en-US"},
        }
        if avoid:
            body["costing_options"] = {COSTING[by]: {AVOID[a]: 0 for a in avoid}}
        path = "/optimized_route" if best else "/route"
        started = time.perf_counter()
        answer = await self._ask(path, body, stops, by)
        took = time.perf_counter() - started
        try:
            trip = answer["trip"]
            order = tuple(int(loc["original_index"]) for loc in trip["locations"]) if best else ()
            if best and sorted(order) != list(range(len(stops))):
                raise ValueError(order)
            coords: list[LatLon] = []
            steps: list[Step] = []
            for leg in trip["legs"]:
                shape = decode(leg["shape"])
                coords += shape[1:] if coords and shape and shape[0] == coords[-1] else shape
                steps += (
                    Step(
                        str(m.get("instruction", "")),
                        float(m.get("length", 0.0)) * 1000,
                        float(m.get("time", 0.0)),
                        tuple(str(name) for name in m.get("street_names", ())),
                    )
                    for m in leg.get("maneuvers", ())
                )
            summary = trip["summary"]
            distance, duration = float(summary["length"]) * 1000, float(summary["time"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._unreadable(path) from None
        if len(coords) < 2:
            coords = [stops[0], stops[-1]] if len(coords) < 1 else [coords[0], coords[0]]
        return Route(tuple(coords), by, distance, duration, tuple(steps), took, order)

    async def match(self, track: Sequence[LatLon], by: Mode) -> Matched:
        body = {
            "shape": [{"lat": lat, "lon": lon} for lat, lon in track],
            "costing": COSTING[by],
            "shape_match": "map_snap",
            "trace_options": {"search_radius": 50},
            "filters": {
                "attributes": [
                    "shape",
                    "edge.begin_shape_index",
                    "edge.end_shape_index",
                    "matched.point",
                    "matched.type",
                    "matched.edge_index",
                ],
                "action": "include",
            },
        }
        answer = await self._ask("/trace_attributes", body, track[:1], by)
        try:
            shape = tuple(decode(answer["shape"]))
            edges = [(int(e["begin_shape_index"]), int(e["end_shape_index"])) for e in answer["edges"]]
            matched = [
                None
                if m.get("type") == "unmatched" or "edge_index" not in m
                else (int(m["edge_index"]), (float(m["lat"]), float(m["lon"])))
                for m in answer["matched_points"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._unreadable("/trace_attributes") from None
        if len(shape) < 2 or len(matched) != len(track):
            raise self._unreadable("/trace_attributes")
        return Matched(shape, positions(shape, edges, matched))

    async def heights(self, points: Sequence[LatLon]) -> tuple[float | None, ...]:
        """The ground's height (m) at each point; None where the router has no elevation data."""
        body = {"shape": [{"lat": lat, "lon": lon} for lat, lon in points], "range": False}
        answer = await self._ask("/height", body, points[:1], "car")
        try:
            found = tuple(None if h is None else float(h) for h in answer["height"])
        except (KeyError, TypeError, ValueError):
            raise self._unreadable("/height") from None
        if len(found) != len(points):
            raise self._unreadable("/height")
        return found

    async def reachable(self, at: LatLon, minutes: Sequence[float], by: Mode) -> list[Contour]:
        body = {
            "locations": [_location(at)],
            "costing": COSTING[by],
            "contours": [{"time": m} for m in minutes],
            "polygons": True,
        }
        # Valhalla draws a small ring around a point with no road near it rather than refusing it
        # (as /route does, 171): ask where the point meets the roads first.
        located = await self._ask_list("/locate", {"locations": [_location(at)], "costing": COSTING[by]})
        if not (located and isinstance(located[0], dict) and located[0].get("edges")):
            raise RouteRefused(
                f"no road for {by} near {_at(at)}; move the point onto a road, or try another mode"
            )
        answer = await self._ask("/isochrone", body, [at], by)
        try:
            contours = isochrones(answer)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._unreadable("/isochrone") from None
        if not contours:
            raise RouteRefused(
                f"nothing is reachable by {by} from {_at(at)} within {', '.join(f'{m:g}' for m in minutes)}"
                " minutes; move the point onto a road, or allow more minutes"
            )
        return contours

    async def matrix(self, sources: Sequence[LatLon], targets: Sequence[LatLon], by: Mode) -> Matrix:
        body = {
            "sources": [_location(p) for p in sources],
            "targets": [_location(p) for p in targets],
            "costing": COSTING[by],
            "units": "kilometers",
        }
        answer = await self._ask("/sources_to_targets", body, [*sources, *targets], by)
        try:
            rows = answer["sources_to_targets"]
            distances = tuple(tuple(_km(cell.get("distance")) for cell in row) for row in rows)
            durations = tuple(tuple(_seconds(cell.get("time")) for cell in row) for row in rows)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._unreadable("/sources_to_targets") from None
        if len(distances) != len(sources) or any(len(row) != len(targets) for row in distances):
            raise self._unreadable("/sources_to_targets")
        return Matrix(distances, durations)

    def __repr__(self) -> str:
        return f"ValhallaRouter({self.url!r})"


def _km(value: Any) -> float | None:
    return None if value is None else float(value) * 1000


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def isochrones(answer: Any) -> list[Contour]:
    """Valhalla's /isochrone answer (GeoJSON features, ``"polygons": true``) as one contour per
    time, whole: a MultiPolygon's parts and every polygon's holes kept (rings of fewer than 3
    points dropped)."""
    contours: list[Contour] = []
    for feature in answer["features"]:
        geometry, props = feature["geometry"], feature.get("properties") or {}
        if geometry["type"] == "Polygon":
            parts = [geometry["coordinates"]]
        elif geometry["type"] == "MultiPolygon":
            parts = geometry["coordinates"]
        else:
            continue
        polygons = []
        for rings in parts:
            outline, *holes = (_ring(r) for r in rings)
            if len(outline) >= 3:
                polygons.append((outline, *(hole for hole in holes if len(hole) >= 3)))
        if polygons:
            contours.append(Contour(float(props.get("contour", 0)), tuple(polygons)))
    return contours


def _ring(raw: Any) -> tuple[LatLon, ...]:
    ring = tuple((float(lat), float(lon)) for lon, lat, *_ in raw)
    return ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
