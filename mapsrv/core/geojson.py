"""GeoJSON (RFC 7946) in; out is ``mapsrv.core.geojson_out``, re-exported here. GeoJSON
positions are ``[lon, lat]``; everywhere else in mapsrv a point is ``(lat, lon)``, so the swap
happens here and in ``geojson_out``, nowhere else.

Import reads untrusted input: ``geojson_parts`` reads each feature's shapes and properties, and
``build_feature`` (here for ``draw``, in ``mapsrv.formats`` for a file) checks them against the
caps in ``Limits``; an error names the feature by its index in the collection.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mapsrv.core.geojson_out import MAPSRV, geometry_to_geojson, label_from, to_geojson
from mapsrv.core.geometry import count, rectangle_corners
from mapsrv.core.heights import with_heights
from mapsrv.core.model import (
    DEFAULT_LAYER,
    FEATURE_TYPES,
    MAX_PROPERTIES,
    NOISE,
    Feature,
    Limits,
    build_feature,
    check_nested,
    per_point,
)
from mapsrv.core.nested import as_arrays
from mapsrv.core.plain import plain_swapped
from mapsrv.core.values import ID_RE as _ID_RE
from mapsrv.core.values import shown
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MAX_NESTING",
    "Part",
    "features_from_geojson",
    "geojson_parts",
    "geometry_from_geojson",
    "geometry_to_geojson",
    "MAPSRV",
    "collection_members",
    "to_geojson",
]

# a Feature's members that are GeoJSON's or mapsrv's, not foreign ones to keep
_KNOWN = frozenset({"type", "id", "geometry", "properties", "bbox", MAPSRV})


def _mapping(value: Any) -> bool:  # isinstance(value, Mapping), a parsed file's without the abc
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def collection_members(raw: Any, max_text: int | None = None) -> dict[str, Any]:
    """A FeatureCollection's foreign members (all but ``type``, ``features``, ``name``, which is
    the title, and ``bbox``), kept under the rules of a feature's properties."""
    if not isinstance(raw, Mapping) or raw.get("type") != "FeatureCollection":
        return {}
    foreign = {k: v for k, v in raw.items() if k not in ("type", "features", "name", "bbox")}
    return _attributes(foreign, 0, max_text, MAX_PROPERTIES)


def _position(name: str, p: Any) -> tuple[Any, Any]:
    """A GeoJSON ``[lon, lat]`` position as mapsrv's ``(lat, lon)``, recognising the common
    mistake of a position written in ``[lat, lon]`` order."""
    if not isinstance(p, list) or len(p) < 2:
        raise InvalidInput(
            f"{name} must be a [lon, lat] position, got {p!r:.60}; e.g. [2.35, 48.85] for Paris"
        )
    lon, lat = p[0], p[1]
    numbers = isinstance(lon, (int, float)) and isinstance(lat, (int, float))
    numbers = numbers and not isinstance(lon, bool) and not isinstance(lat, bool)
    if numbers and not -90 - NOISE <= lat <= 90 + NOISE and -90 <= lon <= 90 and -180 <= lat <= 180:
        raise InvalidInput(
            f"{name} must be [lon, lat] (GeoJSON order), got {p!r:.60}: that looks like [lat, lon];"
            f" write [{shown(lat)}, {shown(lon)}]"
        )
    return (lat, lon)


_SIMPLE = {"Point": "marker", "LineString": "polyline", "MultiPoint": "multipoint", "Polygon": "polygon"}
_SIMPLE |= {"MultiLineString": "multipolyline", "MultiPolygon": "multipolygon"}
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
        if (fast := plain_swapped(coords, NOISE)) is not None:
            return fast
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


_SCALARS = (str, int, float, bool, type(None))
_SIMPLESTYLE = {
    "stroke": "color",
    "stroke-width": "weight",
    "stroke-opacity": "opacity",
    "fill": "fill_color",
    "fill-opacity": "fill_opacity",
    "marker-color": "color",
}


# mapsrv's keys in the properties of an earlier version's export, beside mapsrv_type
_OWN = ("layer", "label", "popup", "style", "radius")
MAX_NESTED = 4_000  # characters of one nested value as JSON when no cap is given (Limits.max_popup)
_MAX_KEY = 64


def _attributes(
    props: Mapping[str, Any], points: int, max_text: int | None, max_keys: int | None
) -> dict[str, Any]:
    """A dataset's other properties, kept as attributes, nested objects and arrays as they came.
    One past ``MAX_DEPTH`` or ``max_text`` characters is kept as its JSON text, cut, rather than
    refusing the file."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if len(out) == max_keys:
            break
        if not isinstance(key, str) or not 0 < len(key) <= _MAX_KEY or not key.isprintable():
            continue
        kind = type(value)  # the plain values first, each as the checks below would keep it
        if value is None or kind is int or kind is bool or kind is str:
            out[key] = value[:max_text] if kind is str and max_text is not None else value
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if isinstance(value, (dict, list)) and not (isinstance(value, list) and per_point(value, points)):
            try:
                check_nested(key, value, max_text if max_text is not None else MAX_NESTED)
            except InvalidInput:  # PayloadTooLarge too: too deep, too big or not finite
                value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif not isinstance(value, (*_SCALARS, list)):
            value = str(value)
        out[key] = value[:max_text] if isinstance(value, str) and max_text is not None else value
    return out


@dataclass(slots=True)  # not frozen: a frozen init sets each field through object.__setattr__
class Part:
    """One GeoJSON feature, read but not checked: ``index`` is its place in the collection,
    ``type`` and ``coords`` its whole geometry (``geometry_from_geojson``, ``[lat, lon]``), ``id``
    its id when it is a valid mapsrv id."""

    index: int
    type: str
    coords: Any
    id: str
    radius: Any
    label: str
    popup: str
    style: Mapping[str, Any]
    properties: Mapping[str, Any]
    # the Feature's ``id`` as the file had it (a string or number) and its foreign members
    members: Mapping[str, Any]
    # a place's rows by time (``mapsrv.core.series``), as a mapsrv export names it
    series: str = ""


def _items(raw: Any) -> list[Any]:
    if not _mapping(raw):
        raise InvalidInput(
            f"geojson must be a GeoJSON object, got {type(raw).__name__};"
            ' give {"type": "FeatureCollection", "features": [...]}'
        )
    if raw.get("type") == "Feature":
        return [raw]
    if raw.get("type") == "FeatureCollection":
        items = raw.get("features")
        if not isinstance(items, list):
            raise InvalidInput(
                f"geojson features must be a list of Features, got {items!r:.40}; give [] for none"
            )
        return items
    raise InvalidInput(
        f"geojson must be a FeatureCollection or Feature, got type {raw.get('type')!r:.40};"
        ' wrap a bare geometry as {"type": "Feature", "geometry": ..., "properties": {}}'
    )


def _fields(props: Mapping[str, Any], mine: Any) -> tuple[str, str, Mapping[str, Any], Mapping[str, Any]]:
    """A feature's label, popup and style, and the properties it keeps. In mapsrv's export they
    are its ``mapsrv`` member (``mine``; a label left out is the data's) and every property is
    the data's; in an export by an earlier version they are in the properties (``mapsrv_type``
    and its keys, ``to_geojson`` then), and taken out of them. Else the label is ``label``,
    ``name`` or ``title``, the popup ``popup`` or ``description``, the style a ``style`` object
    or the simplestyle properties, and every property is kept."""
    if _mapping(mine) and mine.get("type") in FEATURE_TYPES:
        label = mine.get("label")
        popup = mine.get("popup")
        style = mine.get("style")
        return (
            label if isinstance(label, str) else label_from(props),
            popup if isinstance(popup, str) else "",
            style if _mapping(style) else {},
            props,  # read by _attributes into a dict of its own
        )
    if props.get("mapsrv_type") in FEATURE_TYPES:
        old = {k: props[f"mapsrv_{k}"] if f"mapsrv_{k}" in props else props.get(k) for k in _OWN}
        taken = {"mapsrv_type", *(f"mapsrv_{k}" if f"mapsrv_{k}" in props else k for k in _OWN)}
        label = old["label"] if isinstance(old["label"], str) else ""
        popup = old["popup"] if isinstance(old["popup"], str) else ""
        style = old["style"] if isinstance(old["style"], Mapping) else {}
        return label, popup, style, {k: v for k, v in props.items() if k not in taken}
    popup = props["popup"] if isinstance(props.get("popup"), str) else props.get("description")
    given = props.get("style")
    if _mapping(given):
        style = given
    else:
        style = {_SIMPLESTYLE[k]: v for k, v in props.items() if k in _SIMPLESTYLE}
    return label_from(props), popup if isinstance(popup, str) else "", style, props


def _members(item: Mapping[str, Any], max_text: int | None, max_keys: int | None) -> dict[str, Any]:
    """A Feature's ``id`` as the file had it (a string or number) and its foreign members."""
    out: dict[str, Any] = {}
    raw_id = item.get("id")
    if isinstance(raw_id, (str, int, float)) and not isinstance(raw_id, bool):
        out["id"] = raw_id
    foreign = {k: v for k, v in item.items() if k not in _KNOWN}
    if not foreign:
        return out
    return out | _attributes(foreign, 0, max_text, None if max_keys is None else max_keys - len(out))


def geojson_parts(
    raw: Any,
    *,
    max_text: int | None = None,
    max_keys: int | None = None,
    max_points: int = Limits.max_points,
    without_geometry: list[int] | None = None,
) -> Iterator[Part]:
    """The features of a FeatureCollection (or one Feature), in order, each whole (its geometry
    by ``geometry_from_geojson``, holes, parts and members kept). Labels come from
    ``label``/``name``/``title``, popups from ``popup``/``description``, styles from ``style`` or
    the simplestyle properties; every property is kept but mapsrv's own (``_fields``). Text
    properties past ``max_text`` characters are cut and keys past ``max_keys`` left out, when
    given (a file's reader notes these itself). A Feature whose geometry is null (RFC 7946
    allows it) is refused, or, when ``without_geometry`` is given, left out and its index
    added to it."""
    for index, item in enumerate(_items(raw)):
        name = f"geojson feature {index}"
        if not _mapping(item) or item.get("type") != "Feature":
            raise InvalidInput(
                f"{name} must be a GeoJSON Feature, got {item!r:.40};"
                ' give {"type": "Feature", "geometry": ..., "properties": {}}'
            )
        props = item.get("properties") or {}
        if not _mapping(props):
            raise InvalidInput(f"{name} properties must be an object, got {props!r:.40}; give {{}} for none")
        if item.get("geometry") is None and without_geometry is not None:
            without_geometry.append(index)
            continue
        ftype, coords = geometry_from_geojson(name, item.get("geometry"), max_points)
        mine = item.get(MAPSRV)
        if _mapping(mine) and "id" in mine:  # mapsrv's id, beside the file's
            raw_id = mine["id"]
        else:
            raw_id = item.get("id", props.get("id"))
        label, popup, style, kept = _fields(props, mine)
        if _mapping(mine) and mine.get("type") in FEATURE_TYPES:
            wanted, radius = mine["type"], mine.get("radius")  # mapsrv's own export
        else:  # an export by an earlier version, or a file's
            wanted = props.get("mapsrv_type")
            radius = props.get("mapsrv_radius", props.get("radius"))
        if wanted == "circle" and ftype == "marker":
            ftype = "circle"
        elif (
            wanted == "rectangle"
            and ftype == "polygon"
            and (corners := rectangle_corners(coords)) is not None
        ):
            ftype, coords = "rectangle", corners
        if ftype != "circle":
            radius = None
        kept = with_heights(ftype, kept, item.get("geometry"))
        kept = as_arrays(kept, mine.get("lists") if _mapping(mine) else None)
        series = mine.get("series") if _mapping(mine) and isinstance(mine.get("series"), str) else ""
        by_time = kept.get(series) if series else None  # a series' lists are one value a time
        series = series if isinstance(by_time, list) and by_time else ""
        points = max(count(ftype, coords), len(by_time) if series and by_time else 0)
        yield Part(
            index=index,
            type=ftype,
            coords=coords,
            id=raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else "",
            radius=radius,
            label=label,
            popup=popup,
            style=style,
            properties=_attributes(kept, points, max_text, max_keys),
            members=_members(item, max_text, max_keys),
            series=series,
        )


def features_from_geojson(raw: Any, limits: Limits, *, layer: str = DEFAULT_LAYER) -> tuple[Feature, ...]:
    """Features from a FeatureCollection (or one Feature), as ``draw`` takes them: one feature per
    GeoJSON feature, whole, checked by ``build_feature``, its id kept (else generated when
    applied), text cut to the caps and attributes past ``MAX_PROPERTIES`` left out."""
    items = _items(raw)
    if len(items) > limits.max_features:
        raise PayloadTooLarge(
            f"geojson features must be at most {limits.max_features}, got {len(items)}; split the import"
        )
    out: list[Feature] = []
    parts = geojson_parts(
        raw, max_text=limits.max_popup, max_keys=MAX_PROPERTIES, max_points=limits.max_points
    )
    for part in parts:
        try:
            out.append(
                build_feature(
                    id=part.id,
                    type=part.type,
                    coords=part.coords,
                    radius=part.radius,
                    layer=layer,
                    label=part.label[: limits.max_label],
                    popup=part.popup[: limits.max_popup],
                    style=part.style,
                    properties=part.properties,
                    members={k: v for k, v in part.members.items() if k != "id" or v != part.id},
                    series=part.series,
                    limits=limits,
                )
            )
        except InvalidInput as exc:  # PayloadTooLarge too, kept as it is
            raise type(exc)(f"geojson feature {part.index}: {exc.message}") from None
    return tuple(out)
