"""What a router answers, what it is asked, and how it fails.

A ``Router`` turns stops into a ``Route`` along the roads, a point into the ``Contour``\\ s reachable
within some minutes, and places into a ``Matrix`` of distances and times. Its failures are two:
``RouterUnavailable`` (the engine is down, hung or broken: nothing was drawn, retry later) and
``RouteRefused`` (the engine answered, and this request cannot be routed: the message says which
stop or limit, and what to do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mapsrv.core.model import LatLon
from mapsrv.core.routes import Mode, RouteFacts
from mapsrv.errors import InvalidInput, Unavailable

__all__ = [
    "Contour",
    "Matched",
    "Matrix",
    "Route",
    "RouteRefused",
    "Router",
    "RouterUnavailable",
    "Step",
]


@dataclass(frozen=True)
class Step:
    """One manoeuvre: what to do ("Turn left onto Rua 3."), then how far and how long until the
    next one, and the streets it names."""

    instruction: str
    distance_m: float
    duration_s: float
    streets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """A route along the roads through every stop in order: its line, length, time and steps.
    ``took_s`` is how long the engine took to answer (the benchmark compares it with the tool's
    own time)."""

    coords: tuple[LatLon, ...]
    by: Mode
    distance_m: float
    duration_s: float
    steps: tuple[Step, ...]
    took_s: float = 0.0
    order: tuple[int, ...] = ()  # the stops' given indexes in the order taken ("order": "best")
    elevations: tuple[float | None, ...] = ()  # metres at each point of ``coords``, when known

    @property
    def facts(self) -> RouteFacts:
        return RouteFacts(self.by, self.distance_m, self.duration_s)


@dataclass(frozen=True)
class Contour:
    """The area reachable within ``minutes``, whole: its ``polygons``, each its outline, then
    its holes (what cannot be reached in time inside it), rings of ``(lat, lon)`` unclosed."""

    minutes: float
    polygons: tuple[tuple[tuple[LatLon, ...], ...], ...]

    @property
    def geometry(self) -> tuple[str, Any]:
        """``(type, coords)`` to draw it as one feature: a polygon (flat without holes) or a
        multipolygon."""
        if len(self.polygons) > 1:
            return "multipolygon", self.polygons
        (rings,) = self.polygons
        return "polygon", rings[0] if len(rings) == 1 else rings


@dataclass(frozen=True)
class Matrix:
    """Distances (m) and times (s) from each source (rows) to each target (columns); None where
    the engine found no way."""

    distances_m: tuple[tuple[float | None, ...], ...]
    durations_s: tuple[tuple[float | None, ...], ...]


class RouterUnavailable(Unavailable):
    """The router did not answer, or answered with an error of its own: nothing was drawn.
    ``asked``: the tool's request (route, reachable, travel_times), for advice that fits it. The
    router's address is not in the message (agents need not know it; the server's log has it)."""

    def __init__(self, why: str, asked: str = "route") -> None:
        advice = {
            "route": "nothing was drawn. Retry shortly, or draw the stops as a straight line (type: line)",
            "reachable": "nothing was drawn. Retry shortly",
            "snap": "nothing was imported. Retry shortly, or import without snap",
        }.get(asked, "retry shortly")
        super().__init__(f"the router is unavailable ({why}); {advice}", retry_after=5)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retry_after": self.retry_after}  # an agent's tool error says when


class RouteRefused(InvalidInput):
    """The router answered, and this request cannot be routed (no road near a stop, no way
    between two stops, a limit)."""


@dataclass(frozen=True)
class Matched:
    """A track put on the roads: the road's line, and where along it (metres from its start) each
    point of the track was matched (None: left unmatched)."""

    coords: tuple[LatLon, ...]
    at_m: tuple[float | None, ...]


class Router(Protocol):
    """A routing engine reached over HTTP. ``name`` is how the server's log and startup line call
    it (its URL, with nothing secret in it); ``timeout`` the longest wait for one answer."""

    name: str
    timeout: float

    async def route(
        self, stops: Sequence[LatLon], by: Mode, avoid: Sequence[str] = (), best: bool = False
    ) -> Route: ...

    async def match(self, track: Sequence[LatLon], by: Mode) -> Matched: ...

    async def heights(self, points: Sequence[LatLon]) -> tuple[float | None, ...]: ...

    async def reachable(self, at: LatLon, minutes: Sequence[float], by: Mode) -> list[Contour]: ...

    async def matrix(self, sources: Sequence[LatLon], targets: Sequence[LatLon], by: Mode) -> Matrix: ...

    async def aclose(self) -> None: ...
