"""A feature's geometry as WKB (ISO/OGC well-known binary, little-endian, x longitude, y latitude):
what GeoPackage, FlatGeobuf, Shapefile (through GDAL) and GeoParquet store. Rings are closed, as
WKB wants; a circle is its centre (its radius goes in a column), a rectangle its polygon. A layer
with heights is written 3D (``mapsrv.core.heights``)."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

from mapsrv.core.geometry import parts
from mapsrv.core.heights import heights
from mapsrv.core.model import Feature

__all__ = ["WKB_TYPES", "to_wkb"]

# mapsrv's type: WKB's geometry type name (what GDAL and GeoParquet's metadata call it)
WKB_TYPES = {
    "marker": "Point",
    "circle": "Point",
    "polyline": "LineString",
    "polygon": "Polygon",
    "rectangle": "Polygon",
    "multipoint": "MultiPoint",
    "multipolyline": "MultiLineString",
    "multipolygon": "MultiPolygon",
    "collection": "GeometryCollection",
}
_CODES = {"Point": 1, "LineString": 2, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5}
_CODES |= {"MultiPolygon": 6, "GeometryCollection": 7}


class _Writer:
    """WKB of one geometry, 2D, or 3D (ISO codes plus 1000) with the heights ``zs`` (one per
    point, in the order of ``geometry.points``; NaN where a point has none)."""

    def __init__(self, zs: list[float | None] | None) -> None:
        self.zs = None if zs is None else iter(math.nan if z is None else z for z in zs)
        self.plus = 0 if zs is None else 1000

    def head(self, name: str, n: int | None = None) -> bytes:
        code = _CODES[name] + self.plus
        return struct.pack("<BI", 1, code) if n is None else struct.pack("<BII", 1, code, n)

    def xy(self, points: Sequence[tuple[float, float]], closed: bool = False) -> bytes:
        if self.zs is None:
            flat = [v for lat, lon in points for v in (lon, lat)]
            return struct.pack(f"<I{len(flat)}d", len(points), *flat)
        n = len(points) - 1 if closed else len(points)  # a ring's closing point has its first's height
        zs = [next(self.zs, math.nan) for _ in range(n)]
        zs += zs[:1] if closed else []
        flat = [v for (lat, lon), z in zip(points, zs, strict=True) for v in (lon, lat, z)]
        return struct.pack(f"<I{len(flat)}d", len(points), *flat)

    def point(self, p: tuple[float, float]) -> bytes:
        if self.zs is None:
            return self.head("Point") + struct.pack("<dd", p[1], p[0])
        return self.head("Point") + struct.pack("<ddd", p[1], p[0], next(self.zs, math.nan))

    def line(self, points: Sequence[tuple[float, float]]) -> bytes:
        return self.head("LineString") + self.xy(points)

    def polygon(self, rings: Sequence[Sequence[tuple[float, float]]]) -> bytes:
        closed = [(*ring, ring[0]) if ring[0] != ring[-1] else ring for ring in rings]
        return self.head("Polygon", len(closed)) + b"".join(self.xy(r, closed=True) for r in closed)

    def geometry(self, type_: str, coords: Any) -> bytes:
        if type_ in ("marker", "circle"):
            return self.point(coords)
        if type_ == "polyline":
            return self.line(coords)
        found = list(parts(type_, coords))
        if type_ in ("polygon", "rectangle"):
            return self.polygon(found[0][1])
        if type_ == "multipoint":
            return self.head("MultiPoint", len(found)) + b"".join(self.point(p) for _, p in found)
        if type_ == "multipolyline":
            return self.head("MultiLineString", len(found)) + b"".join(self.line(line) for _, line in found)
        if type_ == "multipolygon":
            return self.head("MultiPolygon", len(found)) + b"".join(self.polygon(rings) for _, rings in found)
        return self.head("GeometryCollection", len(coords)) + b"".join(self.geometry(t, c) for t, c in coords)


_POINT = struct.Struct("<BIdd")
_MULTI = {"marker": "multipoint", "circle": "multipoint", "polyline": "multipolyline"}
_MULTI |= {"polygon": "multipolygon", "rectangle": "multipolygon"}


def to_wkb(feature: Feature, *, multi: bool = False, z: bool = False) -> bytes:
    """``feature``'s geometry as WKB; with ``multi``, a single point, line or polygon as a multi
    geometry of one part (a layer that holds both); with ``z``, 3D, each point's height its
    feature's (``mapsrv.core.heights``) or NaN."""
    if not (z or multi) and feature.type in ("marker", "circle"):  # most big files are points: no writer
        return _POINT.pack(1, 1, feature.coords[1], feature.coords[0])
    zs = (heights(feature.type, feature.coords, feature.properties) or []) if z else None
    out = _Writer(zs)
    if multi and feature.type in _MULTI:
        if feature.type in ("marker", "circle"):
            return out.geometry("multipoint", (feature.coords,))
        if feature.type == "polyline":
            return out.geometry("multipolyline", (feature.coords,))
        return out.geometry("multipolygon", tuple(rings for _, rings in parts(feature.type, feature.coords)))
    return out.geometry(feature.type, feature.coords)
