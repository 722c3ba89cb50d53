"""GeoJSON (RFC 7946) out and in. GeoJSON positions are ``[lon, lat]``; everywhere else in
mapsrv a point is ``(lat, lon)``, so the swap happens here and nowhere else.

Import reads untrusted input: every feature goes through ``build_feature`` and the caps in
``Limits``; an error names the feature by its index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapsrv.core.model import _ID_RE, DEFAULT_LAYER, Feature, Limits, MapState, build_feature
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["features_from_geojson", "to_geojson"]


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
    """An RFC 7946 FeatureCollection. ``mapsrv_type`` and ``radius`` let a re-import restore
    circles and rectangles exactly."""
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
        features.append(
            {"type": "Feature", "id": feature.id, "geometry": _geometry(feature), "properties": properties}
        )
    return {"type": "FeatureCollection", "name": state.title, "features": features}


def _latlon_list(name: str, coords: Any) -> list[Any]:
    if not isinstance(coords, list):
        raise InvalidInput(f"{name} coordinates must be a list")
    out = []
    for i, p in enumerate(coords):
        if not isinstance(p, list) or len(p) < 2:
            raise InvalidInput(f"{name} coordinates[{i}] must be [lon, lat]")
        out.append([p[1], p[0]])
    return out


def _point(name: str, coords: Any) -> list[Any]:
    if not isinstance(coords, list) or len(coords) < 2:
        raise InvalidInput(f"{name} coordinates must be [lon, lat]")
    return [coords[1], coords[0]]


def _shapes(name: str, geometry: Any) -> list[tuple[str, Any]]:
    """(feature type, [lat, lon] coords) for each simple shape in a GeoJSON geometry."""
    if not isinstance(geometry, Mapping):
        raise InvalidInput(f"{name} geometry must be an object")
    gtype, coords = geometry.get("type"), geometry.get("coordinates")
    if gtype == "Point":
        return [("marker", _point(name, coords))]
    if gtype == "LineString":
        return [("polyline", _latlon_list(name, coords))]
    if gtype == "Polygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidInput(f"{name} polygon needs at least one ring")
        ring = _latlon_list(name, coords[0])
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
        return [("polygon", ring)]
    if gtype in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        if not isinstance(coords, list):
            raise InvalidInput(f"{name} coordinates must be a list")
        simple = gtype[len("Multi") :]
        return [s for part in coords for s in _shapes(name, {"type": simple, "coordinates": part})]
    if gtype == "GeometryCollection":
        parts = geometry.get("geometries")
        if not isinstance(parts, list):
            raise InvalidInput(f"{name} geometries must be a list")
        return [s for part in parts for s in _shapes(name, part)]
    raise InvalidInput(f"{name} has unsupported geometry type {gtype!r:.40}")


_SIMPLESTYLE = {
    "stroke": "color",
    "stroke-width": "weight",
    "stroke-opacity": "opacity",
    "fill": "fill_color",
    "fill-opacity": "fill_opacity",
    "marker-color": "color",
}


def features_from_geojson(raw: Any, limits: Limits, *, layer: str = DEFAULT_LAYER) -> tuple[Feature, ...]:
    """Features from a FeatureCollection (or one Feature). Ids come from the GeoJSON feature's
    ``id`` when it is a valid mapsrv id, else they are generated when applied. Labels come from
    ``label``/``name``/``title``, popups from ``popup``/``description``, styles from ``style`` or
    the simplestyle properties."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("geojson must be a GeoJSON object")
    if raw.get("type") == "Feature":
        items: Any = [raw]
    elif raw.get("type") == "FeatureCollection":
        items = raw.get("features")
        if not isinstance(items, list):
            raise InvalidInput("geojson features must be a list")
    else:
        raise InvalidInput(
            f"geojson must be a FeatureCollection or Feature, got type {raw.get('type')!r:.40}"
        )
    out: list[Feature] = []
    for index, item in enumerate(items):
        name = f"geojson feature {index}"
        if not isinstance(item, Mapping) or item.get("type") != "Feature":
            raise InvalidInput(f"{name} must be a GeoJSON Feature")
        props = item.get("properties") or {}
        if not isinstance(props, Mapping):
            raise InvalidInput(f"{name} properties must be an object")
        shapes = _shapes(name, item.get("geometry"))
        raw_id = item.get("id", props.get("id"))
        base_id = raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else ""
        style = (
            props.get("style")
            if isinstance(props.get("style"), Mapping)
            else {_SIMPLESTYLE[k]: v for k, v in props.items() if k in _SIMPLESTYLE}
        )
        label = next((props[k] for k in ("label", "name", "title") if isinstance(props.get(k), str)), "")
        popup = next((props[k] for k in ("popup", "description") if isinstance(props.get(k), str)), "")
        wanted = props.get("mapsrv_type")
        for part, (ftype, coords) in enumerate(shapes):
            radius = None
            if wanted == "circle" and ftype == "marker":
                ftype, radius = "circle", props.get("radius")
            elif wanted == "rectangle" and ftype == "polygon" and len(coords) == 4:
                lats = [p[0] for p in coords]
                lons = [p[1] for p in coords]
                ftype, coords = "rectangle", [[min(lats), min(lons)], [max(lats), max(lons)]]
            fid = base_id if len(shapes) == 1 or not base_id else f"{base_id[:58]}.{part}"
            try:
                out.append(
                    build_feature(
                        id=fid,
                        type=ftype,
                        coords=coords,
                        radius=radius,
                        layer=layer,
                        label=label[: limits.max_label],
                        popup=popup[: limits.max_popup],
                        style=style,
                        limits=limits,
                    )
                )
            except InvalidInput as exc:
                raise InvalidInput(f"{name}: {exc.message}") from None
            if len(out) > limits.max_features:
                raise PayloadTooLarge(f"geojson has more than {limits.max_features} features")
    return tuple(out)
