"""Shapes in the forms other files write them: WKT (a CSV's geometry column), and the closed
ring that stands for a polygon, a rectangle or a circle in formats that have no such shape
(a GPX track, a KML polygon)."""

from __future__ import annotations

import math
import re
from typing import Any

from mapsrv.core.model import Feature, LatLon
from mapsrv.errors import InvalidInput

__all__ = ["CIRCLE_POINTS", "outline", "parse_wkt", "to_wkt"]

CIRCLE_POINTS = 64  # points of the ring that stands for a circle
_EARTH_RADIUS_M = 6_371_008.8
_WKT_HEAD = re.compile(r"\s*(?:SRID=[0-9]{1,9};)?([A-Za-z]+)\s*(?:ZM|Z|M)?\s*(\(.*\)|EMPTY)\s*", re.S | re.I)
_WKT_KINDS = (
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
)
_MAX_NESTING = 4
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_POSITION = re.compile(rf"\s*({_NUMBER})\s+({_NUMBER})(?:\s+{_NUMBER}){{0,2}}\s*")


def outline(feature: Feature) -> list[LatLon]:
    """A polygon's, rectangle's or circle's ring, closed (its first point repeated last)."""
    if feature.type == "rectangle":
        (s, w), (n, e) = feature.coords
        return [(s, w), (s, e), (n, e), (n, w), (s, w)]
    if feature.type == "circle":
        ring = _circle(feature.coords, feature.radius or 0.0)
    else:
        ring = list(feature.coords)
    return [*ring, ring[0]] if ring[0] != ring[-1] else ring


def _circle(center: LatLon, metres: float) -> list[LatLon]:
    """Points ``metres`` from ``center`` (on a sphere: within 0.5 % of the ellipsoid), clockwise
    from north."""
    lat, lon = math.radians(center[0]), math.radians(center[1])
    d = metres / _EARTH_RADIUS_M
    out = []
    for k in range(CIRCLE_POINTS):
        bearing = 2 * math.pi * k / CIRCLE_POINTS
        lat2 = math.asin(math.sin(lat) * math.cos(d) + math.cos(lat) * math.sin(d) * math.cos(bearing))
        lon2 = lon + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(lat), math.cos(d) - math.sin(lat) * math.sin(lat2)
        )
        out.append((math.degrees(lat2), (math.degrees(lon2) + 540) % 360 - 180))
    return out


def _lonlat(point: LatLon) -> str:
    return f"{point[1]!r} {point[0]!r}"


def to_wkt(feature: Feature) -> str:
    """The feature as WKT (``lon lat`` order): a POINT for a marker or a circle's centre, a
    LINESTRING, or a POLYGON (a rectangle's four corners)."""
    if feature.type in ("marker", "circle"):
        return f"POINT ({_lonlat(feature.coords)})"
    if feature.type == "polyline":
        return f"LINESTRING ({', '.join(_lonlat(p) for p in feature.coords)})"
    return f"POLYGON (({', '.join(_lonlat(p) for p in outline(feature))}))"


def parse_wkt(text: str, where: str, _depth: int = 0) -> list[tuple[str, Any]]:
    """``(feature type, [lat, lon] coords)`` for each shape of a WKT geometry: POINT,
    LINESTRING, POLYGON (its outer ring), their MULTI forms, and GEOMETRYCOLLECTION. Heights
    (Z, M) are dropped."""
    found = _WKT_HEAD.fullmatch(text)
    if found is None:
        raise InvalidInput(
            f"{where} is not WKT, got {text[:40]!r}; write e.g. POINT (2.35 48.85) (longitude first)"
        )
    kind, body = found.group(1).upper(), found.group(2)
    for suffix in ("ZM", "Z", "M"):  # POINTZ as well as POINT Z
        if kind not in _WKT_KINDS and kind.endswith(suffix) and kind[: -len(suffix)] in _WKT_KINDS:
            kind = kind[: -len(suffix)]
    if _depth > _MAX_NESTING:
        raise InvalidInput(f"{where} WKT is nested more than {_MAX_NESTING} deep; flatten the collection")
    if body == "EMPTY":
        return []
    inner = body[1:-1]
    if kind == "POINT":
        return [("marker", _positions(inner, where)[0])]
    if kind == "LINESTRING":
        return [("polyline", _positions(inner, where))]
    if kind == "POLYGON":
        rings = _groups(inner, where)
        ring = _positions(rings[0], where) if rings else []
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
        return [("polygon", ring)]
    if kind == "MULTIPOINT":  # both MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4))
        parts = _groups(inner, where) if "(" in inner else inner.split(",")
        return [("marker", _positions(p, where)[0]) for p in parts]
    if kind == "MULTILINESTRING":
        return [("polyline", _positions(p, where)) for p in _groups(inner, where)]
    if kind == "MULTIPOLYGON":
        return [s for p in _groups(inner, where) for s in parse_wkt(f"POLYGON ({p})", where, _depth + 1)]
    if kind == "GEOMETRYCOLLECTION":
        return [s for p in _members(inner) for s in parse_wkt(p, where, _depth + 1)]
    raise InvalidInput(
        f"{where} WKT type must be POINT, LINESTRING, POLYGON, a MULTI one or GEOMETRYCOLLECTION,"
        f" got {kind!r:.40}"
    )


def _positions(text: str, where: str) -> list[list[float]]:
    out: list[list[float]] = []
    for item in text.split(","):
        found = _POSITION.fullmatch(item)
        if found is None:
            raise InvalidInput(
                f"{where} WKT position must be two numbers (longitude latitude), got {item.strip()[:40]!r}"
            )
        out.append([float(found.group(2)), float(found.group(1))])
    return out


def _groups(text: str, where: str) -> list[str]:
    """The top-level parenthesised parts of ``(a), (b)``, without their parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                parts.append(text[start:i])
            elif depth < 0:
                break
    if depth != 0:
        raise InvalidInput(f"{where} WKT has unbalanced parentheses in {text[:40]!r}")
    return parts


def _members(text: str) -> list[str]:
    """The members of a GEOMETRYCOLLECTION's body, split at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]
