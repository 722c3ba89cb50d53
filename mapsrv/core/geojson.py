"""GeoJSON (RFC 7946) out and in. GeoJSON positions are ``[lon, lat]``; everywhere else in
mapsrv a point is ``(lat, lon)``, so the swap happens here and nowhere else.

Import reads untrusted input: every feature goes through ``build_feature`` and the caps in
``Limits``; an error names the feature by its index.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from mapsrv.core.geometry import parts
from mapsrv.core.model import (
    DEFAULT_LAYER,
    MAX_PROPERTIES,
    Feature,
    Limits,
    MapState,
    build_feature,
    check_properties,
)
from mapsrv.core.values import ID_RE as _ID_RE
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MAX_NESTING",
    "features_from_geojson",
    "geometry_from_geojson",
    "geometry_to_geojson",
    "to_geojson",
]


def _lonlat(point: tuple[float, float]) -> list[float]:
    return [point[1], point[0]]


def _ring(ring: Any) -> list[list[float]]:
    out = [_lonlat(p) for p in ring]
    if out[0] != out[-1]:  # RFC 7946 3.1.6: a ring's last position is its first
        out.append(out[0])
    return out


def geometry_to_geojson(type_: str, coords: Any) -> dict[str, Any]:
    """A geometry (``mapsrv.core.geometry``) as an RFC 7946 geometry: rings closed, holes and
    parts kept, a circle as its centre, a rectangle as its ring."""
    if type_ in ("marker", "circle"):
        return {"type": "Point", "coordinates": _lonlat(coords)}
    if type_ in ("polyline", "multipoint"):
        gtype = "LineString" if type_ == "polyline" else "MultiPoint"
        return {"type": gtype, "coordinates": [_lonlat(p) for p in coords]}
    if type_ == "multipolyline":
        return {"type": "MultiLineString", "coordinates": [[_lonlat(p) for p in line] for line in coords]}
    if type_ in ("polygon", "rectangle"):
        ((_, rings),) = parts(type_, coords)
        return {"type": "Polygon", "coordinates": [_ring(r) for r in rings]}
    if type_ == "multipolygon":
        return {"type": "MultiPolygon", "coordinates": [[_ring(r) for r in polygon] for polygon in coords]}
    return {"type": "GeometryCollection", "geometries": [geometry_to_geojson(t, c) for t, c in coords]}


def to_geojson(state: MapState) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection, a Feature for each feature with its geometry whole (holes,
    parts, members). ``mapsrv_type`` and ``radius`` let a re-import restore circles and
    rectangles exactly."""
    features = []
    for feature in state.features.values():
        properties: dict[str, Any] = {
            "mapsrv_type": feature.type,
            "layer": feature.layer,
            "label": feature.label,
            "popup": feature.popup,
            "style": dict(feature.style),
        }
        if feature.radius is not None:
            properties["radius"] = feature.radius
        if feature.properties:
            # The feature's own attributes first: mapsrv's keys above are what a re-import reads.
            properties = {
                k: list(v) if isinstance(v, tuple) else v for k, v in feature.properties
            } | properties
        features.append(
            {
                "type": "Feature",
                "id": feature.id,
                "geometry": geometry_to_geojson(feature.type, feature.coords),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "name": state.title, "features": features}


def _position(name: str, p: Any) -> list[Any]:
    """A GeoJSON ``[lon, lat]`` position as mapsrv's ``[lat, lon]``, recognising the common
    mistake of a position written in ``[lat, lon]`` order."""
    if not isinstance(p, list) or len(p) < 2:
        raise InvalidInput(
            f"{name} must be a [lon, lat] position, got {p!r:.60}; e.g. [2.35, 48.85] for Paris"
        )
    lon, lat = p[0], p[1]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lon, lat))
    if numbers and not -90 <= lat <= 90 and -90 <= lon <= 90 and -180 <= lat <= 180:
        raise InvalidInput(
            f"{name} must be [lon, lat] (GeoJSON order), got {p!r:.60}: that looks like [lat, lon];"
            f" write [{lat:g}, {lon:g}]"
        )
    return [lat, lon]


_SIMPLE = {
    "Point": "marker",
    "LineString": "polyline",
    "MultiPoint": "multipoint",
    "Polygon": "polygon",
    "MultiLineString": "multipolyline",
    "MultiPolygon": "multipolygon",
}
# How deep a type's coordinates nest down to the positions, and what each level holds.
_DEPTH = {"marker": 0, "polyline": 1, "multipoint": 1, "polygon": 2, "multipolyline": 2, "multipolygon": 3}
_LEVEL = {1: "[lon, lat] positions", 2: "rings or lines of positions", 3: "polygons (lists of rings)"}
MAX_NESTING = 32  # GeometryCollections inside GeometryCollections (flattened into one)


class _Count:
    """Positions read so far, against the cap, so a huge geometry is refused before it is read."""

    def __init__(self, name: str, most: int) -> None:
        self.name, self.most, self.seen = name, most, 0

    def add(self, n: int) -> None:
        self.seen += n
        if self.seen > self.most:
            raise PayloadTooLarge(
                f"{self.name} must have at most {self.most} points, got at least {self.seen}; simplify it"
            )


def _swapped(name: str, coords: Any, depth: int, seen: _Count) -> Any:
    """GeoJSON coordinates nested ``depth`` levels deep, each position as ``[lat, lon]``."""
    if depth == 0:
        return _position(name, coords)
    if not isinstance(coords, list):
        raise InvalidInput(
            f"{name} must be a list of {_LEVEL[depth]}, got {coords!r:.40}; see RFC 7946 section 3.1"
        )
    if depth == 1:
        seen.add(len(coords))
    return [_swapped(f"{name}[{i}]", c, depth - 1, seen) for i, c in enumerate(coords)]


def _object(name: str, geometry: Any) -> Mapping[str, Any]:
    if not isinstance(geometry, Mapping):
        raise InvalidInput(
            f"{name} must be an object, got {geometry!r:.40};"
            ' e.g. {"type": "Point", "coordinates": [2.35, 48.85]}'
        )
    return geometry


def _simple(name: str, geometry: Mapping[str, Any], seen: _Count) -> tuple[str, Any]:
    gtype = geometry.get("type")
    if gtype not in _SIMPLE:
        raise InvalidInput(
            f"{name} type must be Point, LineString, Polygon, a Multi- one or GeometryCollection,"
            f" got {gtype!r:.40}; convert it to one of those"
        )
    type_ = _SIMPLE[gtype]
    return type_, _swapped(f"{name} coordinates", geometry.get("coordinates"), _DEPTH[type_], seen)


def geometry_from_geojson(name: str, g: Any, max_points: int = Limits.max_points) -> tuple[str, Any]:
    """One RFC 7946 geometry as one mapsrv geometry ``(type, coords)`` with ``[lat, lon]``
    points, holes and parts kept: a Polygon a polygon, a MultiPolygon a multipolygon, a
    GeometryCollection a collection, with collections inside it flattened into it (at most
    ``MAX_NESTING`` deep). Rings come as written (``geometry.check`` unclosed them); past
    ``max_points`` positions it stops reading."""
    seen = _Count(name, max_points)
    top = _object(f"{name} geometry", g)
    if top.get("type") != "GeometryCollection":
        return _simple(f"{name} geometry", top, seen)
    members: list[dict[str, Any]] = []
    stack: list[tuple[str, Any, int]] = [(f"{name} geometry", top, 0)]
    while stack:  # depth first, in order, without recursion on the input's depth
        where, item, depth = stack.pop()
        item = _object(where, item)
        if item.get("type") != "GeometryCollection":
            mtype, coords = _simple(where, item, seen)
            members.append({"type": mtype, "coords": coords})
            continue
        if depth == MAX_NESTING:
            raise InvalidInput(
                f"{name} geometry must nest GeometryCollections at most {MAX_NESTING} deep, got deeper;"
                " flatten it"
            )
        inner = item.get("geometries")
        if not isinstance(inner, list):
            raise InvalidInput(
                f"{where} geometries must be a list of geometries, got {inner!r:.40}; see RFC 7946"
            )
        stack.extend(
            (f"{where}.geometries[{i}]", sub, depth + 1) for i, sub in reversed(list(enumerate(inner)))
        )
    if not members:
        raise InvalidInput(
            f"{name} geometry must hold at least 1 geometry, got an empty GeometryCollection;"
            " give one or leave the feature out"
        )
    return "collection", members


def _rectangle(coords: Any) -> Any:
    """A polygon's coords as a rectangle's, when it is one ring of 4 corners, else None."""
    if len(coords) != 1:
        return None
    ring = coords[0]
    if len(ring) == 5 and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) != 4:
        return None
    lats = [p[0] for p in ring]
    lons = [p[1] for p in ring]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


_SCALARS = (str, int, float, bool, type(None))
_SIMPLESTYLE = {
    "stroke": "color",
    "stroke-width": "weight",
    "stroke-opacity": "opacity",
    "fill": "fill_color",
    "fill-opacity": "fill_opacity",
    "marker-color": "color",
}


# Properties that become the feature itself (its id, label, popup, style, type) rather than attributes.
_CONSUMED = frozenset({"id", "mapsrv_type", "radius", "layer", "label", "popup", "style", *_SIMPLESTYLE})
_MAX_KEY = 64


def _attributes(props: Mapping[str, Any], points: int, max_text: int) -> dict[str, Any]:
    """A dataset's other properties, kept as attributes. Real files nest objects and long lists;
    those are kept as their JSON text rather than refusing the file, and keys past 64 are dropped."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if len(out) == MAX_PROPERTIES:
            break
        if not isinstance(key, str) or not 0 < len(key) <= _MAX_KEY or not key.isprintable():
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        scalar_list = isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)
        if isinstance(value, (dict, list)) and not (scalar_list and len(value) <= points):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif scalar_list and any(isinstance(v, str) and len(v) > 64 for v in value):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif not isinstance(value, (*_SCALARS, list)):
            value = str(value)
        out[key] = value[:max_text] if isinstance(value, str) else value
    return out


def features_from_geojson(raw: Any, limits: Limits, *, layer: str = DEFAULT_LAYER) -> tuple[Feature, ...]:
    """Features from a FeatureCollection (or one Feature). Ids come from the GeoJSON feature's
    ``id`` when it is a valid mapsrv id, else they are generated when applied. Labels come from
    ``label``/``name``/``title``, popups from ``popup``/``description``, styles from ``style`` or
    the simplestyle properties."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f"geojson must be a GeoJSON object, got {type(raw).__name__};"
            ' give {"type": "FeatureCollection", "features": [...]}'
        )
    if raw.get("type") == "Feature":
        items: Any = [raw]
    elif raw.get("type") == "FeatureCollection":
        items = raw.get("features")
        if not isinstance(items, list):
            raise InvalidInput(
                f"geojson features must be a list of Features, got {items!r:.40}; give [] for none"
            )
    else:
        raise InvalidInput(
            f"geojson must be a FeatureCollection or Feature, got type {raw.get('type')!r:.40};"
            ' wrap a bare geometry as {"type": "Feature", "geometry": ..., "properties": {}}'
        )
    if len(items) > limits.max_features:
        raise PayloadTooLarge(
            f"geojson features must be at most {limits.max_features}, got {len(items)}; split the import"
        )
    return tuple(
        _feature(f"geojson feature {index}", item, limits, layer) for index, item in enumerate(items)
    )


def _feature(name: str, item: Any, limits: Limits, layer: str) -> Feature:
    """One GeoJSON Feature as one feature, its geometry whole and its id kept."""
    if not isinstance(item, Mapping) or item.get("type") != "Feature":
        raise InvalidInput(
            f"{name} must be a GeoJSON Feature, got {item!r:.40};"
            ' give {"type": "Feature", "geometry": ..., "properties": {}}'
        )
    props = item.get("properties") or {}
    if not isinstance(props, Mapping):
        raise InvalidInput(f"{name} properties must be an object, got {props!r:.40}; give {{}} for none")
    ftype, coords = geometry_from_geojson(name, item.get("geometry"), limits.max_points)
    raw_id = item.get("id", props.get("id"))
    style = (
        props.get("style")
        if isinstance(props.get("style"), Mapping)
        else {_SIMPLESTYLE[k]: v for k, v in props.items() if k in _SIMPLESTYLE}
    )
    label = next((props[k] for k in ("label", "name", "title") if isinstance(props.get(k), str)), "")
    popup = next((props[k] for k in ("popup", "description") if isinstance(props.get(k), str)), "")
    wanted = props.get("mapsrv_type")
    used = {k for k in ("label", "name", "title") if props.get(k) == label and label}
    used |= {k for k in ("popup", "description") if props.get(k) == popup and popup}
    kept = {k: v for k, v in props.items() if k not in _CONSUMED and k not in used}
    radius = None
    if wanted == "circle" and ftype == "marker":
        ftype, radius = "circle", props.get("radius")
    elif wanted == "rectangle" and ftype == "polygon" and (corners := _rectangle(coords)) is not None:
        ftype, coords = "rectangle", corners
    try:
        feature = build_feature(
            id=raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else "",
            type=ftype,
            coords=coords,
            radius=radius,
            layer=layer,
            label=label[: limits.max_label],
            popup=popup[: limits.max_popup],
            style=style,
            limits=limits,
        )
        points = feature.point_count()
        properties = check_properties(_attributes(kept, points, limits.max_popup), limits, points)
    except InvalidInput as exc:  # PayloadTooLarge too, kept as it is
        raise type(exc)(f"{name}: {exc.message}") from None
    return Feature(**{**vars(feature), "properties": properties})
