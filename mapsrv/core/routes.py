"""A routed line's facts and their words: how it was travelled, how long it is and how long it
takes ("313 km, 3 h 5 min by car").

A line drawn along the roads by a routing engine (``mapsrv.routing``) keeps three properties,
which every file and every reader sees: ``by`` (car, bike or foot), ``distance_m`` and
``duration_s``. The activity list, ``read``, the page's popup and the GPX export read them here,
so a route reads the same everywhere.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mapsrv.core.model import Feature

__all__ = [
    "CLIMB_KEYS",
    "MODES",
    "Climb",
    "climb",
    "ROUTE_KEYS",
    "Mode",
    "RouteFacts",
    "describe",
    "duration_words",
    "length_words",
    "route_facts",
]

Mode = Literal["car", "bike", "foot"]
MODES: tuple[Mode, ...] = ("car", "bike", "foot")
ROUTE_KEYS = ("by", "distance_m", "duration_s")  # a routed line's properties
CLIMB_KEYS = ("ascent_m", "descent_m", "highest_m")  # a line's, with its ``elevations`` per point


@dataclass(frozen=True)
class RouteFacts:
    by: Mode
    distance_m: float
    duration_s: float

    def properties(self) -> tuple[tuple[str, str | int], ...]:
        """As a feature's properties (whole metres and seconds: finer is noise)."""
        return (
            ("by", self.by),
            ("distance_m", round(self.distance_m)),
            ("duration_s", round(self.duration_s)),
        )

    def words(self) -> str:
        return describe(self.distance_m, self.duration_s, self.by)


def route_facts(feature: Feature) -> RouteFacts | None:
    """The facts of a line a router drew, or None for any other feature."""
    if feature.type != "polyline" or not feature.properties:
        return None
    props = dict(feature.properties)
    by, distance, duration = props.get("by"), props.get("distance_m"), props.get("duration_s")
    if by not in MODES or not _number(distance) or not _number(duration):
        return None
    return RouteFacts(by, float(distance), float(duration))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Climb:
    """How much a line climbs and drops (m, the sums of its rises and falls point to point) and
    its highest point's height."""

    ascent_m: float
    descent_m: float
    highest_m: float

    def properties(self) -> dict[str, float]:
        """As a feature's (and an answer's) properties, to the decimetre."""
        return dict(
            zip(
                CLIMB_KEYS,
                (round(v, 1) for v in (self.ascent_m, self.descent_m, self.highest_m)),
                strict=True,
            )
        )


def climb(elevations: Sequence[float | None]) -> Climb | None:
    """The climb of heights along a line (points without a height skipped); None without two."""
    known = [h for h in elevations if h is not None]
    if len(known) < 2:
        return None
    rises = [b - a for a, b in itertools.pairwise(known)]
    return Climb(sum(r for r in rises if r > 0), -sum(r for r in rises if r < 0), max(known))


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _rounded(value: float) -> int:
    """Halves up, as the page's ``Math.round`` does (Python's ``round`` goes to even)."""
    return math.floor(value + 0.5)


def length_words(metres: float) -> str:
    """``850 m``, ``4.2 km``, ``313 km``: what a person reads off a route sign. The unit follows
    the rounded value (999.6 m is ``1.0 km``), halves round up, as in the page."""
    if _rounded(metres) < 1000:
        return f"{_rounded(metres)} m"
    tenths = _rounded(metres / 100)
    if tenths < 1000:
        return f"{tenths // 10}.{tenths % 10} km"
    return f"{_rounded(metres / 1000):,} km"


def duration_words(seconds: float) -> str:
    """``under a minute``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    minutes = _rounded(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def describe(distance_m: float, duration_s: float, by: str) -> str:
    return f"{length_words(distance_m)}, {duration_words(duration_s)} by {by}"
