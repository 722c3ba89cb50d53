"""A feature's geometry as WKB (ISO/OGC well-known binary, little-endian, x longitude, y latitude):
what GeoPackage, FlatGeobuf, Shapefile (through GDAL) and GeoParquet store. Rings are closed, as
WKB wants; a circle is its centre (its radius goes in a column), a rectangle its polygon."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from mapsrv.core.geometry import parts
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


def _head(name: str, n: int | None = None) -> bytes:
    code = _CODES[name]
    return struct.pack("<BI", 1, code) if n is None else struct.pack("<BII", 1, code, n)


def _xy(points: Sequence[tuple[float, float]]) -> bytes:
    flat = [v for lat, lon in points for v in (lon, lat)]
    return struct.pack(f"<I{len(flat)}d", len(points), *flat)


def _point(p: tuple[float, float]) -> bytes:
    return _head("Point") + struct.pack("<dd", p[1], p[0])


def _line(points: Sequence[tuple[float, float]]) -> bytes:
    return _head("LineString") + _xy(points)


def _polygon(rings: Sequence[Sequence[tuple[float, float]]]) -> bytes:
    closed = [(*ring, ring[0]) if ring[0] != ring[-1] else ring for ring in rings]
    return _head("Polygon", len(closed)) + b"".join(_xy(r) for r in closed)


def _geometry(type_: str, coords: Any) -> bytes:
    if type_ in ("marker", "circle"):
        return _point(coords)
    if type_ == "polyline":
        return _line(coords)
    found = list(parts(type_, coords))
    if type_ in ("polygon", "rectangle"):
        return _polygon(found[0][1])
    if type_ == "multipoint":
        return _head("MultiPoint", len(found)) + b"".join(_point(p) for _, p in found)
    if type_ == "multipolyline":
        return _head("MultiLineString", len(found)) + b"".join(_line(line) for _, line in found)
    if type_ == "multipolygon":
        return _head("MultiPolygon", len(found)) + b"".join(_polygon(rings) for _, rings in found)
    return _head("GeometryCollection", len(coords)) + b"".join(_geometry(t, c) for t, c in coords)


_MULTI = {"marker": "multipoint", "circle": "multipoint", "polyline": "multipolyline"}
_MULTI |= {"polygon": "multipolygon", "rectangle": "multipolygon"}


def to_wkb(feature: Feature, *, multi: bool = False) -> bytes:
    """``feature``'s geometry as WKB; with ``multi``, a single point, line or polygon as a multi
    geometry of one part (a layer that holds both)."""
    if multi and feature.type in _MULTI:
        if feature.type in ("marker", "circle"):
            return _geometry("multipoint", (feature.coords,))
        if feature.type == "polyline":
            return _geometry("multipolyline", (feature.coords,))
        return _geometry("multipolygon", tuple(rings for _, rings in parts(feature.type, feature.coords)))
    return _geometry(feature.type, feature.coords)
