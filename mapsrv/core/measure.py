"""Measurements a model computes badly: distance along a route, area, bearing, bounding box.

Distances and areas are geodesics on the WGS84 ellipsoid from ``geographiclib`` (Karney's
algorithms, accurate to nanometres), not a spherical haversine, which is off by up to 0.5 %.
geographiclib is pure math with no I/O, so core may import it.

Points are ``(lat, lon)`` as everywhere in mapsrv. Every function validates what it is given and
raises :class:`~mapsrv.errors.InvalidInput` naming the field, the value and the valid range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from geographiclib.geodesic import Geodesic

from mapsrv.core.geometry import parts
from mapsrv.core.model import Bounds, Feature, LatLon, check_latlon
from mapsrv.errors import InvalidInput

__all__ = [
    "AREA_UNITS",
    "LENGTH_UNITS",
    "Bearing",
    "area",
    "bbox",
    "bearing",
    "check_area_unit",
    "check_length_unit",
    "distance",
    "feature_area",
    "feature_length",
    "legs",
]

_WGS84 = Geodesic.WGS84
_A = float(_WGS84.a)  # equatorial radius, m
_F = float(_WGS84.f)  # flattening
_E = math.sqrt(_F * (2 - _F))  # eccentricity
_AUTHALIC_RADIUS = _A * math.sqrt((1 + (1 - _F) ** 2 * math.atanh(_E) / _E) / 2)  # sphere of equal area

# Metres (or square metres) per unit; the first spelling of each is the canonical one.
LENGTH_UNITS: dict[str, float] = {"m": 1.0, "km": 1_000.0, "mi": 1_609.344, "nmi": 1_852.0, "ft": 0.3048}
AREA_UNITS: dict[str, float] = {
    "m2": 1.0,
    "km2": 1e6,
    "ha": 1e4,
    "acres": 4_046.8564224,
    "mi2": 1_609.344**2,
}
_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "mile": "mi", "miles": "mi",
    "nm": "nmi", "nautical mile": "nmi", "nautical miles": "nmi",
    "foot": "ft", "feet": "ft",
    "m²": "m2", "sq m": "m2", "square meters": "m2", "square metres": "m2",
    "km²": "km2", "sq km": "km2", "square kilometers": "km2", "square kilometres": "km2",
    "hectare": "ha", "hectares": "ha", "acre": "acres",
    "mi²": "mi2", "sq mi": "mi2", "square miles": "mi2",
}  # fmt: skip

_COMPASS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
_WORDS = {"N": "north", "E": "east", "S": "south", "W": "west"}


@dataclass(frozen=True)
class Bearing:
    """An initial bearing: ``degrees`` clockwise from true north in [0, 360), ``compass`` one of
    the 16 points (``"NE"``) and ``word`` the same in words (``"north-east"``)."""

    degrees: float
    compass: str
    word: str


def _unit(kind: str, unit: Any, table: dict[str, float]) -> str:
    key = unit.strip().lower() if isinstance(unit, str) else unit
    key = _ALIASES.get(key, key)
    if key not in table:
        raise InvalidInput(
            f"{kind} unit must be one of {', '.join(table)}, got {unit!r:.40}; pick one of those"
        )
    return str(key)


def check_length_unit(unit: Any) -> str:
    """The canonical spelling of a length unit (``"miles"`` gives ``"mi"``)."""
    return _unit("length", unit, LENGTH_UNITS)


def check_area_unit(unit: Any) -> str:
    """The canonical spelling of an area unit (``"hectares"`` gives ``"ha"``)."""
    return _unit("area", unit, AREA_UNITS)


def _points(name: str, value: Any, minimum: int) -> list[LatLon]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInput(
            f"{name} must be a list of [lat, lon] points, got {type(value).__name__} {value!r:.30};"
            " e.g. [[48.85, 2.35], [51.51, -0.13]]"
        )
    if len(value) < minimum:
        raise InvalidInput(f"{name} needs at least {minimum} points, got {len(value)}; add more")
    return [check_latlon(f"{name}[{i}]", p) for i, p in enumerate(value)]


def _leg_metres(a: LatLon, b: LatLon) -> float:
    return float(_WGS84.Inverse(a[0], a[1], b[0], b[1], Geodesic.DISTANCE)["s12"])


def legs(points: Any, unit: Any = "m") -> list[float]:
    """The geodesic length of each leg of a line through ``points`` (two or more), in ``unit``."""
    per = LENGTH_UNITS[check_length_unit(unit)]
    path = _points("points", points, 2)
    return [_leg_metres(a, b) / per for a, b in itertools.pairwise(path)]


def distance(points: Any, unit: Any = "m") -> float:
    """The geodesic length of a line or route through ``points`` (the sum of its legs)."""
    return math.fsum(legs(points, unit))


def _ring_area_m2(ring: list[LatLon]) -> float:
    if ring[0] == ring[-1]:
        ring = ring[:-1]  # a closed ring (GeoJSON style) repeats its first point
    polygon = _WGS84.Polygon()
    for lat, lon in ring:
        polygon.AddPoint(lat, lon)
    _, _, signed = polygon.Compute(False, True)
    return abs(float(signed))


def area(points: Any, unit: Any = "m2") -> float:
    """The geodesic area of the polygon whose ring is ``points`` (three or more; a repeated first
    point at the end is allowed), in ``unit``. Either winding order gives the same positive area."""
    per = AREA_UNITS[check_area_unit(unit)]
    ring = _points("points", points, 3)
    if len(set(ring)) < 3:
        raise InvalidInput(
            f"points needs at least 3 distinct points, got {len(set(ring))}; an area needs an outline"
        )
    return _ring_area_m2(ring) / per


def bearing(start: Any, end: Any) -> Bearing:
    """The initial bearing of the geodesic from ``start`` to ``end``."""
    a = check_latlon("start", start)
    b = check_latlon("end", end)
    if a == b:
        raise InvalidInput(
            f"end must differ from start, got the same point {list(a)} for both; a bearing needs two places"
        )
    azimuth = float(_WGS84.Inverse(a[0], a[1], b[0], b[1], Geodesic.AZIMUTH)["azi1"])
    degrees = azimuth % 360.0
    if degrees >= 360.0:  # a tiny negative azimuth: -1e-16 % 360 rounds to 360.0, which is north
        degrees = 0.0
    compass = _COMPASS[round(degrees / 22.5) % 16]
    return Bearing(degrees=degrees, compass=compass, word=_compass_word(compass))


def _compass_word(compass: str) -> str:
    # "NNE" reads "north-north-east"; "NE" reads "north-east"
    if len(compass) == 3:
        return f"{_WORDS[compass[0]]}-{_compass_word(compass[1:])}"
    return "-".join(_WORDS[c] for c in compass)


def _feature_extent(feature: Feature) -> tuple[LatLon, ...]:
    if feature.type == "circle" and feature.radius:
        lat, lon = feature.coords
        rim = (_destination(lat, lon, azimuth, feature.radius) for azimuth in (0.0, 90.0, 180.0, 270.0))
        return ((lat, lon), *rim)
    return feature.points()


def _destination(lat: float, lon: float, azimuth: float, metres: float) -> LatLon:
    out = _WGS84.Direct(lat, lon, azimuth, metres)
    return (max(-90.0, min(90.0, float(out["lat2"]))), float(out["lon2"]))


def bbox(items: Iterable[Any]) -> Bounds:
    """``((south, west), (north, east))`` around points and features; a circle counts its radius.
    Boxes do not wrap the 180th meridian, matching the map's ``fit_bounds``."""
    south: list[float] = []
    west: list[float] = []
    north: list[float] = []
    east: list[float] = []
    for i, item in enumerate(items):
        points = _feature_extent(item) if isinstance(item, Feature) else (check_latlon(f"items[{i}]", item),)
        if points:  # each item's extent by zip, min and max, in C: a loop per point took 0.2 s
            lats, lons = zip(*points, strict=True)  # for a 1:10m world's 550,000 points
            south.append(min(lats))
            north.append(max(lats))
            west.append(min(lons))
            east.append(max(lons))
    if not south:
        raise InvalidInput("items needs at least 1 point or feature, got 0; give one")
    return ((min(south), _clamped(min(west))), (max(north), _clamped(max(east))))


def _clamped(lon: float) -> float:
    """``lon`` within ±180 (a circle's rim may pass it); the extremes of clamped longitudes are
    the clamped extremes."""
    return max(-180.0, min(180.0, lon))


def feature_length(feature: Feature, unit: Any = "m") -> float:
    """A line's length (every part's), a polygon's or rectangle's perimeter (its holes' too), a
    circle's circumference; a marker has none (0)."""
    per = LENGTH_UNITS[check_length_unit(unit)]
    if feature.type == "circle":
        return 2 * math.pi * float(feature.radius or 0.0) / per
    paths: list[Sequence[LatLon]] = []
    for kind, value in parts(feature.type, feature.coords):
        if kind == "line":
            paths.append(value)
        elif kind == "polygon":
            paths.extend((*ring, ring[0]) for ring in value)
    return math.fsum(_leg_metres(a, b) for path in paths for a, b in itertools.pairwise(path)) / per


def feature_area(feature: Feature, unit: Any = "m2") -> float:
    """A polygon's (less its holes), every part's of a multipolygon, a rectangle's or a circle's
    area; markers and lines have none (0)."""
    per = AREA_UNITS[check_area_unit(unit)]
    if feature.type == "circle":
        # a spherical cap of geodesic radius r on the authalic sphere
        r = _AUTHALIC_RADIUS
        cap = 2 * math.pi * r * r * (1 - math.cos(float(feature.radius or 0.0) / r))
        return cap / per
    if feature.type == "rectangle":
        # its edges follow parallels, not geodesics: the exact area of an ellipsoidal zone
        (s, w), (n, e) = feature.coords
        b = _A * (1 - _F)
        return math.radians(e - w) * b * b / 2 * (_q(n) - _q(s)) / per
    total = 0.0
    for kind, rings in parts(feature.type, feature.coords):
        if kind == "polygon":
            outer, *holes = (_ring_area_m2(list(ring)) for ring in rings)
            total += max(0.0, outer - sum(holes))
    return total / per


def _q(lat: float) -> float:
    sin = math.sin(math.radians(lat))
    return sin / (1 - (_E * sin) ** 2) + math.atanh(_E * sin) / _E
