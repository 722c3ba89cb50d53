"""GeoJSON (RFC 7946) out and in. GeoJSON positions are ``[lon, lat]``; everywhere else in
mapsrv a point is ``(lat, lon)``, so the swap happens here and nowhere else.

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

from mapsrv.core.model import (
    DEFAULT_LAYER,
    FEATURE_TYPES,
    MAX_PROPERTIES,
    NOISE,
    Feature,
    Limits,
    MapState,
    build_feature,
)
from mapsrv.core.values import ID_RE as _ID_RE
from mapsrv.core.values import shown
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["Part", "features_from_geojson", "geojson_parts", "to_geojson"]


def _lonlat(point: tuple[float, float]) -> list[float]:
    return [point[1], point[0]]


def _geometry(feature: Feature) -> dict[str, Any]:
    if feature.type in ("marker", "circle"):
        return {"type": "Point", "coordinates": _lonlat(feature.coords)}
    if feature.type == "polyline":
        return {"type": "LineString", "coordinates": [_lonlat(p) for p in feature.coords]}
    if feature.type == "polygon":
        ring = [_lonlat(p) for p in feature.coords]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        return {"type": "Polygon", "coordinates": [ring]}
    (s, w), (n, e) = feature.coords
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def to_geojson(state: MapState) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection. Each feature's properties are its own, under their names,
    then mapsrv's (``mapsrv_type``, ``layer``, ``label``, ``popup``, ``style``, ``radius``) that let
    a re-import restore it exactly; one of mapsrv's whose name a property of the data has is
    written as ``mapsrv_`` and its name (``mapsrv_layer``), so that neither hides the other."""
    features = []
    for feature in state.features.values():
        own: dict[str, Any] = {
            "layer": feature.layer,
            "label": feature.label,
            "popup": feature.popup,
            "style": dict(feature.style),
        }
        if feature.radius is not None:
            own["radius"] = feature.radius
        properties = {k: list(v) if isinstance(v, tuple) else v for k, v in feature.properties}
        properties["mapsrv_type"] = feature.type
        for key, value in own.items():
            properties[f"mapsrv_{key}" if key in properties else key] = value
        features.append(
            {"type": "Feature", "id": feature.id, "geometry": _geometry(feature), "properties": properties}
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
    if numbers and not -90 - NOISE <= lat <= 90 + NOISE and -90 <= lon <= 90 and -180 <= lat <= 180:
        raise InvalidInput(
            f"{name} must be [lon, lat] (GeoJSON order), got {p!r:.60}: that looks like [lat, lon];"
            f" write [{shown(lat)}, {shown(lon)}]"
        )
    return [lat, lon]


def _latlon_list(name: str, coords: Any) -> list[Any]:
    if not isinstance(coords, list):
        raise InvalidInput(
            f"{name} coordinates must be a list of [lon, lat] positions, got {coords!r:.40};"
            " e.g. [[2.35, 48.85], [-0.13, 51.51]]"
        )
    return [_position(f"{name} coordinates[{i}]", p) for i, p in enumerate(coords)]


def _point(name: str, coords: Any) -> list[Any]:
    return _position(f"{name} coordinates", coords)


def _shapes(name: str, geometry: Any) -> list[tuple[str, Any]]:
    """(feature type, [lat, lon] coords) for each simple shape in a GeoJSON geometry."""
    if not isinstance(geometry, Mapping):
        raise InvalidInput(
            f"{name} geometry must be an object, got {geometry!r:.40};"
            ' e.g. {"type": "Point", "coordinates": [2.35, 48.85]}'
        )
    gtype, coords = geometry.get("type"), geometry.get("coordinates")
    if gtype == "Point":
        return [("marker", _point(name, coords))]
    if gtype == "LineString":
        return [("polyline", _latlon_list(name, coords))]
    if gtype == "Polygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidInput(
                f"{name} polygon coordinates must be a list of rings, got {coords!r:.40};"
                " give [[[lon, lat], ...]]"
            )
        ring = _latlon_list(name, coords[0])
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
        return [("polygon", ring)]
    if gtype in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        if not isinstance(coords, list):
            raise InvalidInput(
                f"{name} coordinates must be a list of parts, got {coords!r:.40}; see RFC 7946"
            )
        simple = gtype[len("Multi") :]
        return [s for part in coords for s in _shapes(name, {"type": simple, "coordinates": part})]
    if gtype == "GeometryCollection":
        parts = geometry.get("geometries")
        if not isinstance(parts, list):
            raise InvalidInput(
                f"{name} geometries must be a list of geometries, got {parts!r:.40}; see RFC 7946"
            )
        return [s for part in parts for s in _shapes(name, part)]
    raise InvalidInput(
        f"{name} geometry type must be Point, LineString, Polygon, a Multi- one or GeometryCollection,"
        f" got {gtype!r:.40}; convert it to one of those"
    )


_SCALARS = (str, int, float, bool, type(None))
_SIMPLESTYLE = {
    "stroke": "color",
    "stroke-width": "weight",
    "stroke-opacity": "opacity",
    "fill": "fill_color",
    "fill-opacity": "fill_opacity",
    "marker-color": "color",
}


_OWN = ("layer", "label", "popup", "style", "radius")  # mapsrv's keys in its export, beside mapsrv_type
_MAX_KEY = 64


def _attributes(
    props: Mapping[str, Any], points: int, max_text: int | None, max_keys: int | None
) -> dict[str, Any]:
    """A dataset's other properties, kept as attributes. Real files nest objects and long lists;
    those are kept as their JSON text rather than refusing the file."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if len(out) == max_keys:
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
        out[key] = value[:max_text] if isinstance(value, str) and max_text is not None else value
    return out


@dataclass(frozen=True)
class Part:
    """One simple shape of a GeoJSON feature, read but not checked: ``index`` is its feature's
    place in the collection, ``coords`` are ``[lat, lon]`` as the file gives them, ``id`` the
    feature's id when it is a valid mapsrv id (numbered ``.0``, ``.1`` for a Multi- one's parts)."""

    index: int
    type: str
    coords: Any
    id: str
    radius: Any
    label: str
    popup: str
    style: Mapping[str, Any]
    properties: Mapping[str, Any]


def _items(raw: Any) -> list[Any]:
    if not isinstance(raw, Mapping):
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


def _fields(props: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any], dict[str, Any]]:
    """A feature's label, popup and style from its properties, and the properties it keeps: all
    but the ones mapsrv takes as its own fields. Those are ``label``, ``popup`` and a ``style``
    object when used, and in mapsrv's own export (``mapsrv_type``) its keys (``to_geojson``); a
    ``name``, ``title`` or ``description`` read for the label or popup is the data's, and kept."""
    if props.get("mapsrv_type") in FEATURE_TYPES:
        mine = {k: props[f"mapsrv_{k}"] if f"mapsrv_{k}" in props else props.get(k) for k in _OWN}
        taken = {"mapsrv_type", *(f"mapsrv_{k}" if f"mapsrv_{k}" in props else k for k in _OWN)}
        label = mine["label"] if isinstance(mine["label"], str) else ""
        popup = mine["popup"] if isinstance(mine["popup"], str) else ""
        style = mine["style"] if isinstance(mine["style"], Mapping) else {}
        return label, popup, style, {k: v for k, v in props.items() if k not in taken}
    label_key = next((k for k in ("label", "name", "title") if isinstance(props.get(k), str)), None)
    popup_key = next((k for k in ("popup", "description") if isinstance(props.get(k), str)), None)
    given = props.get("style")
    if isinstance(given, Mapping):
        style = given
    else:
        style = {_SIMPLESTYLE[k]: v for k, v in props.items() if k in _SIMPLESTYLE}
    taken = {k for k in (label_key, popup_key) if k in ("label", "popup")}
    taken |= {"style"} if isinstance(given, Mapping) else set()
    return (
        props[label_key] if label_key else "",
        props[popup_key] if popup_key else "",
        style,
        {k: v for k, v in props.items() if k not in taken},
    )


def geojson_parts(raw: Any, *, max_text: int | None = None, max_keys: int | None = None) -> Iterator[Part]:
    """The parts of a FeatureCollection's (or one Feature's) features, in order. Labels come from
    ``label``/``name``/``title``, popups from ``popup``/``description``, styles from ``style`` or
    the simplestyle properties; every property is kept but mapsrv's own (``_fields``). Text
    properties past ``max_text`` characters are cut and keys past ``max_keys`` left out, when
    given (a file's reader notes these itself)."""
    for index, item in enumerate(_items(raw)):
        name = f"geojson feature {index}"
        if not isinstance(item, Mapping) or item.get("type") != "Feature":
            raise InvalidInput(
                f"{name} must be a GeoJSON Feature, got {item!r:.40};"
                ' give {"type": "Feature", "geometry": ..., "properties": {}}'
            )
        props = item.get("properties") or {}
        if not isinstance(props, Mapping):
            raise InvalidInput(f"{name} properties must be an object, got {props!r:.40}; give {{}} for none")
        shapes = _shapes(name, item.get("geometry"))
        raw_id = item.get("id", props.get("id"))
        base_id = raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else ""
        label, popup, style, kept = _fields(props)
        wanted = props.get("mapsrv_type")  # circle or rectangle: mapsrv's own export
        for part, (ftype, coords) in enumerate(shapes):
            radius = None
            if wanted == "circle" and ftype == "marker":
                ftype, radius = "circle", props.get("mapsrv_radius", props.get("radius"))
            elif wanted == "rectangle" and ftype == "polygon" and len(coords) == 4:
                lats = [p[0] for p in coords]
                lons = [p[1] for p in coords]
                ftype, coords = "rectangle", [[min(lats), min(lons)], [max(lats), max(lons)]]
            points = len(coords) if ftype in ("polyline", "polygon") else 1
            yield Part(
                index=index,
                type=ftype,
                coords=coords,
                id=base_id if len(shapes) == 1 or not base_id else f"{base_id[:58]}.{part}",
                radius=radius,
                label=label,
                popup=popup,
                style=style,
                properties=_attributes(kept, points, max_text, max_keys),
            )


def features_from_geojson(raw: Any, limits: Limits, *, layer: str = DEFAULT_LAYER) -> tuple[Feature, ...]:
    """Features from a FeatureCollection (or one Feature), as ``draw`` takes them: each part of
    ``geojson_parts`` checked by ``build_feature``, its id kept (else generated when applied),
    text cut to the caps and attributes past ``MAX_PROPERTIES`` left out."""
    out: list[Feature] = []
    for part in geojson_parts(raw, max_text=limits.max_popup, max_keys=MAX_PROPERTIES):
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
                    limits=limits,
                )
            )
        except InvalidInput as exc:
            raise InvalidInput(f"geojson feature {part.index}: {exc.message}") from None
        if len(out) > limits.max_features:
            raise PayloadTooLarge(
                f"geojson features must be at most {limits.max_features}, got more; split the import"
            )
    return tuple(out)
