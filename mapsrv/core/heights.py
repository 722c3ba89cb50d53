"""A feature's heights (Z) as mapsrv keeps them: as its data, the way GPX and KML hold them. A
point's height is its ``ele``; a line's or a shape's are its ``elevations``, one per point in the
order of ``geometry.points`` (None where a point has none). A file that holds a third coordinate
(GeoJSON, GeoPackage, Shapefile, FlatGeobuf, GeoParquet) is read into these and written back from
them, so heights go through the map, its stores, undo and every export as any attribute does; a
rectangle (two corners) has none."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mapsrv.core.geometry import count

__all__ = ["ELE", "ELEVATIONS", "geojson_heights", "height_key", "heights", "numbers", "with_heights"]

ELE = "ele"  # a point's height, as GPX names it
ELEVATIONS = "elevations"  # a line's or shape's, one per point


def height_key(type_: str) -> str:
    """The property that holds a geometry's heights: ``ele`` for a point, else ``elevations``."""
    return ELE if type_ in ("marker", "circle") else ELEVATIONS


def _height(value: Any) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:  # a JSON integer of 400 digits is no height (float() would overflow)
        return float(value) if -(10**15) < value < 10**15 else None
    return None


def numbers(values: Sequence[Any]) -> list[float | None] | None:
    """``values`` as heights (finite numbers, None for the rest), or None when none is a number."""
    out = [_height(v) for v in values]
    return out if any(v is not None for v in out) else None


def heights(type_: str, coords: Any, properties: Sequence[tuple[str, Any]]) -> list[float | None] | None:
    """A feature's heights, one per point, or None when it has none: no height property, one
    that is not numbers, or per-point ``elevations`` an edit left out of step with its points."""
    if type_ == "rectangle":
        return None
    key = height_key(type_)
    for name, value in properties:
        if name != key:
            continue
        if key == ELE:
            return numbers([value])
        if isinstance(value, (tuple, list)) and len(value) == count(type_, coords):
            return numbers(value)
        return None
    return None


_DEPTH = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}


def _first(coords: Any) -> Any:
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    return coords


def _third(position: Any) -> Any:
    return position[2] if isinstance(position, list) and len(position) > 2 else None


def geojson_heights(geometry: Mapping[str, Any]) -> list[float | None] | None:
    """A GeoJSON geometry's third coordinates, in the order of mapsrv's points (a ring's closing
    position left out, as ``geometry.check`` leaves it), or None when it has none. Read after
    ``geojson.geometry_from_geojson`` took the geometry, so its shape and depth are sound; a
    geometry whose first position has no height is not walked (a file has them throughout)."""
    first: Any = geometry
    while first.get("type") == "GeometryCollection" and first.get("geometries"):
        first = first["geometries"][0]
    if not isinstance(first, Mapping) or _third(_first(first.get("coordinates"))) is None:
        return None
    out: list[Any] = []
    stack: list[Any] = [geometry]
    while stack:
        item = stack.pop()
        kind, coords = item.get("type"), item.get("coordinates")
        if kind == "GeometryCollection":
            stack.extend(reversed(item.get("geometries") or []))
        elif _DEPTH.get(kind) == 0:
            out.append(_third(coords))
        elif _DEPTH.get(kind) == 1:
            out += [_third(p) for p in coords]
        elif kind in _DEPTH:
            closed = kind != "MultiLineString"
            for group in [coords] if _DEPTH[kind] == 2 else coords:
                for ring in group:
                    cut = closed and len(ring) > 1 and ring[0][:2] == ring[-1][:2]
                    out += [_third(p) for p in (ring[:-1] if cut else ring)]
    return numbers(out)


def with_heights(type_: str, properties: Mapping[str, Any], geometry: Any) -> Mapping[str, Any]:
    """A GeoJSON feature's properties with its geometry's heights as its ``ele`` or
    ``elevations``, unless it has that property already (mapsrv's own export writes both)."""
    key = height_key(type_)
    if type_ == "rectangle" or key in properties or not isinstance(geometry, Mapping):
        return properties
    zs = geojson_heights(geometry)
    if zs is None:
        return properties
    return {**properties, key: zs[0] if key == ELE else zs}
