"""Curves made straight: a GIS file's circular arcs (ISO WKB's CircularString, CompoundCurve,
CurvePolygon, MultiCurve and MultiSurface, as GeoPackages and FlatGeobufs hold them) as lines of
points an arc step apart, as GDAL's own linearisation does (``OGR_ARC_STEPSIZE``, 4 degrees), so
that shapely (GEOS has no curves) and the map can take them.

Only what a curve needs is read here, and only for a geometry shapely refused: ``linear_wkb``
answers the same geometry as linear 2D WKB (a CompoundCurve a LineString, a CurvePolygon a
Polygon, a MultiCurve a MultiLineString, a MultiSurface a MultiPolygon, a collection's members
each), or None when the bytes are not a curve it knows. Z and M are read past: the map holds
positions in 2D.
"""

from __future__ import annotations

import math
import struct
from typing import Any

__all__ = ["ARC_STEP", "is_curved", "linear_wkb"]

ARC_STEP = math.radians(4.0)  # GDAL's OGR_ARC_STEPSIZE default
_MAX_DEPTH = 16
_MAX_POINTS = 10_000_000  # points one geometry may become: a forged count is no allocation
_LINE, _POLYGON, _MULTILINE, _MULTIPOLYGON, _COLLECTION = 2, 3, 5, 6, 7
_POINT, _CIRCULAR, _COMPOUND, _CURVE_POLYGON, _MULTICURVE, _MULTISURFACE = 1, 8, 9, 10, 11, 12
_CURVES = frozenset({_CIRCULAR, _COMPOUND, _CURVE_POLYGON, _MULTICURVE, _MULTISURFACE})
Points = list[tuple[float, float]]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def head(self) -> tuple[str, int, int]:
        """A geometry's byte order, its base type and how many numbers a point has."""
        order = "<" if self.data[self.at] == 1 else ">"
        (code,) = struct.unpack_from(order + "I", self.data, self.at + 1)
        self.at += 5
        dims = 2
        if code & 0x80000000:  # EWKB's flags
            dims += 1
        if code & 0x40000000:
            dims += 1
        if code & 0x20000000:  # an SRID follows
            self.at += 4
        code &= 0x0FFFFFFF
        if code >= 1000:
            dims = {1: 3, 2: 3, 3: 4}[code // 1000]
            code %= 1000
        return order, code, dims

    def count(self, order: str) -> int:
        (n,) = struct.unpack_from(order + "I", self.data, self.at)
        self.at += 4
        if n > _MAX_POINTS or n * 16 > len(self.data):
            raise ValueError("a count past the geometry's bytes")
        return int(n)

    def points(self, order: str, dims: int) -> Points:
        n = self.count(order)
        flat = struct.unpack_from(f"{order}{n * dims}d", self.data, self.at)
        self.at += 8 * n * dims
        return [(flat[i], flat[i + 1]) for i in range(0, n * dims, dims)]


def _arc(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> Points:
    """The arc from ``a`` through ``b`` to ``c``, ``a`` and every step's point (not ``c``)."""
    (ax, ay), (bx, by), (cx, cy) = a, b, c
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if a == c:  # a whole circle: b is across it
        ox, oy = (ax + bx) / 2, (ay + by) / 2
        sweep = 2 * math.pi
    elif abs(d) < 1e-12 * max(1.0, abs(ax), abs(ay), abs(cx), abs(cy)) ** 2:
        return [a, b]  # the three points on a line: a line
    else:
        a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
        ox = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        oy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
        start, end = math.atan2(ay - oy, ax - ox), math.atan2(cy - oy, cx - ox)
        left = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) > 0  # a turn to the left: counter-clockwise
        sweep = (end - start) % (2 * math.pi) if left else -((start - end) % (2 * math.pi))
    radius = math.hypot(ax - ox, ay - oy)
    start = math.atan2(ay - oy, ax - ox)
    steps = max(2, math.ceil(abs(sweep) / ARC_STEP))
    return [a] + [
        (ox + radius * math.cos(start + sweep * i / steps), oy + radius * math.sin(start + sweep * i / steps))
        for i in range(1, steps)
    ]


def _circular(points: Points) -> Points:
    if len(points) < 3 or len(points) % 2 == 0:
        raise ValueError("a circular string of an even number of points")
    out: Points = []
    for i in range(0, len(points) - 2, 2):
        out += _arc(points[i], points[i + 1], points[i + 2])
    return [*out, points[-1]]


def _line(reader: _Reader, depth: int) -> Points:
    """A curve (a LineString, a CircularString or a CompoundCurve) as its points."""
    order, code, dims = reader.head()
    if code == _LINE:
        return reader.points(order, dims)
    if code == _CIRCULAR:
        return _circular(reader.points(order, dims))
    if code == _COMPOUND and depth < _MAX_DEPTH:
        out: Points = []
        for _ in range(reader.count(order)):
            part = _line(reader, depth + 1)
            out += part[1:] if out else part
        return out
    raise ValueError(f"not a curve: WKB type {code}")


def _rings(reader: _Reader, order: str, dims: int, code: int, depth: int) -> list[Points]:
    if code == _POLYGON:
        return [reader.points(order, dims) for _ in range(reader.count(order))]
    return [_line(reader, depth + 1) for _ in range(reader.count(order))]


def _pack_points(points: Points) -> bytes:
    flat = [v for point in points for v in point]
    return struct.pack(f"<I{len(flat)}d", len(points), *flat)


def _pack(kind: int, body: bytes, n: int | None = None) -> bytes:
    return struct.pack("<BI", 1, kind) + (b"" if n is None else struct.pack("<I", n)) + body


def _geometry(reader: _Reader, depth: int) -> bytes:
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deep")
    start = reader.at
    order, code, dims = reader.head()
    if code in (_LINE, _CIRCULAR, _COMPOUND):
        reader.at = start
        return _pack(_LINE, _pack_points(_line(reader, depth)))
    if code in (_POLYGON, _CURVE_POLYGON):
        rings = _rings(reader, order, dims, code, depth)
        return _pack(_POLYGON, b"".join(_pack_points(r) for r in rings), len(rings))
    if code == _POINT:
        x, y = struct.unpack_from(f"{order}2d", reader.data, reader.at)
        reader.at += 8 * dims
        return _pack(_POINT, struct.pack("<2d", x, y))
    if code in (_MULTICURVE, _MULTISURFACE, _MULTILINE, _MULTIPOLYGON, 4, _COLLECTION):
        members = [_geometry(reader, depth + 1) for _ in range(reader.count(order))]
        kind = {_MULTICURVE: _MULTILINE, _MULTISURFACE: _MULTIPOLYGON}.get(code, code)
        return _pack(kind, b"".join(members), len(members))
    raise ValueError(f"WKB type {code}")


def is_curved(data: Any) -> bool:
    """Whether ``data`` (WKB) is of a curve type, or a collection that may hold one."""
    if not isinstance(data, bytes) or len(data) < 5:
        return False
    order = "<" if data[0] == 1 else ">"
    (code,) = struct.unpack_from(order + "I", data, 1)
    code = (code & 0x0FFFFFFF) % 1000
    return code in _CURVES or code == _COLLECTION


def linear_wkb(data: Any) -> bytes | None:
    """``data`` (WKB) with its curves made straight, in 2D; None when it is not a geometry of
    curves this reads (see the module's docstring)."""
    if not is_curved(data):
        return None
    try:
        return _geometry(_Reader(data), 0)
    except (ValueError, struct.error, IndexError, KeyError):
        return None
