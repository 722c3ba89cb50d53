"""Shapes in the forms other files write them: WKT (a CSV's geometry column), every geometry
whole; and a feature's parts as GPX and KML draw them (a circle as the ring that stands for it,
each part with where its per-point values start)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, TypeAlias

from mapsrv.core.geometry import parts
from mapsrv.core.heights import heights
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
_POSITION = re.compile(
    rf"\s*({_NUMBER})\s+({_NUMBER})(?:\s+({_NUMBER}|(?i:nan)))?(?:\s+(?:{_NUMBER}|(?i:nan)))?\s*"
)
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


class _Wkt:
    """WKT of one geometry, ``lon lat``, or ``lon lat height`` (a Z geometry, NaN where a point
    has none) with the heights ``zs``, one per point in the order of ``core.geometry.points``."""

    def __init__(self, zs: list[float | None] | None) -> None:
        self.zs = None if zs is None else iter(zs)
        self.z = "" if zs is None else " Z"

    def lonlat(self, point: LatLon, z: Any = None) -> str:
        if self.zs is None:
            return f"{point[1]!r} {point[0]!r}"
        z = next(self.zs, None) if z is None else z
        return f"{point[1]!r} {point[0]!r} {math.nan if z is None else z!r}"

    def line(self, points: Sequence[LatLon], ring: bool = False) -> str:
        if not ring or self.zs is None:
            return f"({', '.join(self.lonlat(p) for p in (closed(points) if ring else points))})"
        zs = [next(self.zs, None) for _ in points]  # a ring's closing point has its first's height
        whole = [self.lonlat(p, math.nan if z is None else z) for p, z in zip(points, zs, strict=True)]
        if len(closed(points)) > len(points):
            whole.append(whole[0])
        return f"({', '.join(whole)})"

    def polygon(self, rings: Sequence[Sequence[LatLon]]) -> str:
        return f"({', '.join(self.line(r, ring=True) for r in rings)})"

    def geometry(self, type_: str, coords: Any) -> str:
        z = self.z
        if type_ in ("marker", "circle"):
            return f"POINT{z} ({self.lonlat(coords)})"
        if type_ == "polyline":
            return f"LINESTRING{z} {self.line(coords)}"
        if type_ == "multipoint":
            return f"MULTIPOINT{z} ({', '.join(f'({self.lonlat(p)})' for p in coords)})"
        if type_ == "multipolyline":
            return f"MULTILINESTRING{z} ({', '.join(self.line(line) for line in coords)})"
        if type_ == "multipolygon":
            return f"MULTIPOLYGON{z} ({', '.join(self.polygon(polygon) for polygon in coords)})"
        if type_ == "collection":
            return f"GEOMETRYCOLLECTION{z} ({', '.join(self.geometry(t, c) for t, c in coords)})"
        ((_, rings),) = parts(type_, coords)  # a polygon (its holes too) or a rectangle's ring
        return f"POLYGON{z} {self.polygon(rings)}"


def to_wkt(feature: Feature) -> str:
    """The feature as WKT (``lon lat`` order), whole: a POINT for a marker or a circle's centre
    (its radius is a column of its own), a LINESTRING, a POLYGON with its holes (a rectangle's
    four corners), a MULTIPOINT, MULTILINESTRING or MULTIPOLYGON, a GEOMETRYCOLLECTION; a Z
    geometry where it has heights (``mapsrv.core.heights``)."""
    zs = heights(feature.type, feature.coords, feature.properties)
    return _Wkt(zs).geometry(feature.type, feature.coords)


_MULTI = {"MULTIPOINT": "multipoint", "MULTILINESTRING": "multipolyline", "MULTIPOLYGON": "multipolygon"}


def parse_wkt(text: str, where: str, zs: list[float | None] | None = None) -> tuple[str, Any]:
    """One WKT geometry as one mapsrv geometry ``(type, [lat, lon] coords)``, whole: a POINT a
    marker, a LINESTRING a polyline, a POLYGON a polygon with its holes, a MULTI one its multi
    type, a GEOMETRYCOLLECTION a collection (collections in it flattened into it, empty members
    left out). Each position's height (Z; None where it has none) is added to ``zs`` when it is
    given, in the order of mapsrv's points (a ring's closing point left out); measures (M) are
    dropped; an EMPTY geometry is refused."""
    kind, body = _head(text, where)
    if kind != "GEOMETRYCOLLECTION":
        if body == "EMPTY":
            raise InvalidInput(f"{where} WKT is empty ({kind} EMPTY); give a shape or leave the row out")
        return _simple(kind, body[1:-1], where, zs)
    members: list[dict[str, Any]] = []
    stack: list[tuple[str, int]] = [(text, 0)]
    while stack:  # depth first, in order, without recursion on the text's depth
        item, depth = stack.pop()
        kind, body = _head(item, where)
        if body == "EMPTY":
            continue
        if kind != "GEOMETRYCOLLECTION":
            mtype, coords = _simple(kind, body[1:-1], where, zs)
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


def _rings(text: str, where: str, zs: list[float | None] | None) -> list[list[list[float]]]:
    rings = []
    for group in _groups(text, where):
        ring = _positions(group, where, zs)
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
            if zs is not None:
                zs.pop()
        rings.append(ring)
    return rings


def _simple(kind: str, inner: str, where: str, zs: list[float | None] | None) -> tuple[str, Any]:
    if kind == "POINT":
        return "marker", _positions(inner, where, zs)[0]
    if kind == "LINESTRING":
        return "polyline", _positions(inner, where, zs)
    if kind == "POLYGON":
        rings = _rings(inner, where, zs)
        return "polygon", rings[0] if len(rings) == 1 else rings
    if kind == "MULTIPOINT":  # both MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4))
        points = _groups(inner, where) if "(" in inner else inner.split(",")
        return "multipoint", [_positions(p, where, zs)[0] for p in points]
    if kind == "MULTILINESTRING":
        return "multipolyline", [_positions(p, where, zs) for p in _groups(inner, where)]
    return _MULTI[kind], [_rings(p, where, zs) for p in _groups(inner, where)]


def _positions(text: str, where: str, zs: list[float | None] | None = None) -> list[list[float]]:
    out: list[list[float]] = []
    for item in text.split(","):
        found = _POSITION.fullmatch(item)
        if found is None:
            raise InvalidInput(
                f"{where} WKT position must be two numbers (longitude latitude), got {item.strip()[:40]!r}"
            )
        out.append([float(found.group(2)), float(found.group(1))])
        if zs is not None:
            z = None if found.group(3) is None else float(found.group(3))
            zs.append(z if z is not None and math.isfinite(z) else None)
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
