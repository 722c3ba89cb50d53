"""Shapes in the forms other files write them: WKT (a CSV's geometry column), every geometry
whole; and a feature's parts as GPX and KML draw them (a circle as the ring that stands for it,
each part with where its per-point values start)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, TypeAlias

from mapsrv.core.geometry import parts
from mapsrv.core.model import Feature, LatLon
from mapsrv.errors import InvalidInput

__all__ = ["CIRCLE_POINTS", "Shape", "closed", "parse_wkt", "shapes", "to_wkt"]

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
# ("point", p), ("line", points) or ("polygon", rings), and where its points start among the feature's
Shape: TypeAlias = tuple[str, Any, int]


def shapes(feature: Feature) -> list[Shape]:
    """The feature's parts as files draw them (``core.geometry.parts``: points, lines and
    polygons, a polygon's outline first, rings unclosed), each with the index of its first point
    among the feature's points, where its per-point lists (a track's ``times``) start; a circle
    is its 64-point ring, a rectangle its four corners."""
    if feature.type == "circle":
        return [("polygon", (tuple(_circle(feature.coords, feature.radius or 0.0)),), 0)]
    out: list[Shape] = []
    start = 0
    for kind, value in parts(feature.type, feature.coords):
        out.append((kind, value, start))
        start += 1 if kind == "point" else len(value) if kind == "line" else sum(map(len, value))
    return out


def closed(ring: Sequence[LatLon]) -> list[LatLon]:
    """A ring with its first point repeated last, as GPX, KML and WKT write it."""
    return [*ring, ring[0]] if ring[0] != ring[-1] else list(ring)


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


def _wkt_line(points: Sequence[LatLon]) -> str:
    return f"({', '.join(_lonlat(p) for p in points)})"


def _wkt_polygon(rings: Sequence[Sequence[LatLon]]) -> str:
    return f"({', '.join(_wkt_line(closed(r)) for r in rings)})"


def _wkt(type_: str, coords: Any) -> str:
    if type_ in ("marker", "circle"):
        return f"POINT ({_lonlat(coords)})"
    if type_ == "polyline":
        return f"LINESTRING {_wkt_line(coords)}"
    if type_ == "multipoint":
        return f"MULTIPOINT ({', '.join(f'({_lonlat(p)})' for p in coords)})"
    if type_ == "multipolyline":
        return f"MULTILINESTRING ({', '.join(_wkt_line(line) for line in coords)})"
    if type_ == "multipolygon":
        return f"MULTIPOLYGON ({', '.join(_wkt_polygon(polygon) for polygon in coords)})"
    if type_ == "collection":
        return f"GEOMETRYCOLLECTION ({', '.join(_wkt(t, c) for t, c in coords)})"
    ((_, rings),) = parts(type_, coords)  # a polygon (its holes too) or a rectangle's ring
    return f"POLYGON {_wkt_polygon(rings)}"


def to_wkt(feature: Feature) -> str:
    """The feature as WKT (``lon lat`` order), whole: a POINT for a marker or a circle's centre
    (its radius is a column of its own), a LINESTRING, a POLYGON with its holes (a rectangle's
    four corners), a MULTIPOINT, MULTILINESTRING or MULTIPOLYGON, a GEOMETRYCOLLECTION."""
    return _wkt(feature.type, feature.coords)


_MULTI = {"MULTIPOINT": "multipoint", "MULTILINESTRING": "multipolyline", "MULTIPOLYGON": "multipolygon"}


def parse_wkt(text: str, where: str) -> tuple[str, Any]:
    """One WKT geometry as one mapsrv geometry ``(type, [lat, lon] coords)``, whole: a POINT a
    marker, a LINESTRING a polyline, a POLYGON a polygon with its holes, a MULTI one its multi
    type, a GEOMETRYCOLLECTION a collection (collections in it flattened into it, empty members
    left out). Heights (Z, M) are dropped; an EMPTY geometry is refused."""
    kind, body = _head(text, where)
    if kind != "GEOMETRYCOLLECTION":
        if body == "EMPTY":
            raise InvalidInput(f"{where} WKT is empty ({kind} EMPTY); give a shape or leave the row out")
        return _simple(kind, body[1:-1], where)
    members: list[dict[str, Any]] = []
    stack: list[tuple[str, int]] = [(text, 0)]
    while stack:  # depth first, in order, without recursion on the text's depth
        item, depth = stack.pop()
        kind, body = _head(item, where)
        if body == "EMPTY":
            continue
        if kind != "GEOMETRYCOLLECTION":
            mtype, coords = _simple(kind, body[1:-1], where)
            members.append({"type": mtype, "coords": coords})
            continue
        if depth >= _MAX_NESTING:
            raise InvalidInput(f"{where} WKT is nested more than {_MAX_NESTING} deep; flatten the collection")
        stack.extend((m, depth + 1) for m in reversed(_members(body[1:-1])))
    if not members:
        raise InvalidInput(f"{where} WKT is an empty GEOMETRYCOLLECTION; give a shape or leave the row out")
    return "collection", members


def _head(text: str, where: str) -> tuple[str, str]:
    """A WKT geometry's kind (Z and M taken off) and its body: ``(...)`` or ``EMPTY``."""
    found = _WKT_HEAD.fullmatch(text)
    if found is None:
        raise InvalidInput(
            f"{where} is not WKT, got {text.strip()[:40]!r}; write e.g. POINT (2.35 48.85) (longitude first)"
        )
    kind, body = found.group(1).upper(), found.group(2)
    for suffix in ("ZM", "Z", "M"):  # POINTZ as well as POINT Z
        if kind not in _WKT_KINDS and kind.endswith(suffix) and kind[: -len(suffix)] in _WKT_KINDS:
            kind = kind[: -len(suffix)]
    if kind not in _WKT_KINDS:
        raise InvalidInput(
            f"{where} WKT type must be POINT, LINESTRING, POLYGON, a MULTI one or GEOMETRYCOLLECTION,"
            f" got {kind!r:.40}"
        )
    return kind, body.upper() if body.upper() == "EMPTY" else body


def _rings(text: str, where: str) -> list[list[list[float]]]:
    rings = []
    for group in _groups(text, where):
        ring = _positions(group, where)
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
        rings.append(ring)
    return rings


def _simple(kind: str, inner: str, where: str) -> tuple[str, Any]:
    if kind == "POINT":
        return "marker", _positions(inner, where)[0]
    if kind == "LINESTRING":
        return "polyline", _positions(inner, where)
    if kind == "POLYGON":
        rings = _rings(inner, where)
        return "polygon", rings[0] if len(rings) == 1 else rings
    if kind == "MULTIPOINT":  # both MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4))
        points = _groups(inner, where) if "(" in inner else inner.split(",")
        return "multipoint", [_positions(p, where)[0] for p in points]
    if kind == "MULTILINESTRING":
        return "multipolyline", [_positions(p, where) for p in _groups(inner, where)]
    return _MULTI[kind], [_rings(p, where) for p in _groups(inner, where)]


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
