"""JSON in and out: ops from request bodies, states and events to and from their wire form,
and GeoJSON (RFC 7946) export and import.

Everything that reads JSON here validates it and raises ``InvalidInput`` naming the bad field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mapsrv.core.model import (
    _ID_RE,
    DEFAULT_LAYER,
    Feature,
    Layer,
    Limits,
    MapState,
    View,
    build_feature,
    check_bounds,
    check_id,
    check_latlon,
    check_style,
    check_text,
    check_zoom,
)
from mapsrv.core.ops import (
    AddFeature,
    AddLayer,
    Clear,
    Event,
    FitBounds,
    ImportFeatures,
    Op,
    RemoveFeatures,
    RemoveLayer,
    SetLayerVisibility,
    SetTitle,
    SetView,
    UpdateFeature,
)
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "OP_FIELDS",
    "dumps",
    "event_from_json",
    "event_from_wire",
    "feature_from_json",
    "features_from_geojson",
    "parse_op",
    "parse_ops",
    "state_from_json",
    "to_geojson",
]


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# op name -> (required fields, optional fields)
OP_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "set_title": (frozenset({"title"}), frozenset()),
    "set_view": (frozenset({"center", "zoom"}), frozenset({"animate"})),
    "fit_bounds": (frozenset(), frozenset({"bounds", "feature_ids", "animate"})),
    "add_feature": (
        frozenset({"type", "coords"}),
        frozenset({"id", "radius", "layer", "label", "popup", "style"}),
    ),
    "update_feature": (
        frozenset({"id"}),
        frozenset({"coords", "radius", "layer", "label", "popup", "style"}),
    ),
    "remove_features": (frozenset({"ids"}), frozenset()),
    "add_layer": (frozenset({"id"}), frozenset({"name", "visible"})),
    "remove_layer": (frozenset({"id"}), frozenset()),
    "show_layer": (frozenset({"id"}), frozenset()),
    "hide_layer": (frozenset({"id"}), frozenset()),
    "clear": (frozenset(), frozenset({"layer"})),
    "import_geojson": (frozenset({"geojson"}), frozenset({"layer"})),
}


def parse_ops(body: Any, limits: Limits = Limits()) -> tuple[list[Op], int | None]:
    """A request body: ``{"ops": [...], "expected_version": n}`` or one op object."""
    if not isinstance(body, Mapping):
        raise InvalidInput(f"body must be a JSON object, got {type(body).__name__}")
    expected = body.get("expected_version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise InvalidInput(f"expected_version must be an integer, got {expected!r:.40}")
    if "op" in body:
        raw_ops: Any = [{k: v for k, v in body.items() if k != "expected_version"}]
    else:
        extra = set(body) - {"ops", "expected_version"}
        if extra:
            raise InvalidInput(f'unknown field {sorted(extra)[0]!r:.40}; send {{"ops": [...]}}')
        raw_ops = body.get("ops")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise InvalidInput("ops must be a non-empty list of op objects")
    if len(raw_ops) > limits.max_ops:
        raise PayloadTooLarge(f"a batch can have at most {limits.max_ops} ops, got {len(raw_ops)}")
    ops = []
    for index, raw in enumerate(raw_ops):
        try:
            ops.append(parse_op(raw, limits))
        except InvalidInput as exc:
            if len(raw_ops) > 1:
                exc.message = f"op {index}: {exc.message}"
                exc.args = (exc.message,)
            raise
    return ops, expected


def parse_op(raw: Any, limits: Limits = Limits()) -> Op:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"an op must be a JSON object, got {type(raw).__name__}")
    name = raw.get("op")
    if not isinstance(name, str) or name not in OP_FIELDS:
        raise InvalidInput(f"unknown op {name!r:.40}; use one of {', '.join(OP_FIELDS)}")
    required, optional = OP_FIELDS[name]
    fields = {k: v for k, v in raw.items() if k != "op"}
    for key in fields:
        if key not in required and key not in optional:
            raise InvalidInput(f"{name} has no field {key!r:.40}")
    for key in required:
        if key not in fields:
            raise InvalidInput(f"{name} needs the field {key!r}")
    return _PARSERS[name](fields, limits)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, got {value!r:.40}")
    return value


def _ids(name: str, value: Any, kind: str = "feature") -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"{name} must be a list of ids, got {type(value).__name__}")
    return tuple(check_id(kind, v) for v in value)


def _opt(fields: Mapping[str, Any], key: str, check: Callable[[Any], Any]) -> Any:
    value = fields.get(key)
    return None if value is None else check(value)


def _add_feature(f: Mapping[str, Any], limits: Limits) -> Op:
    return AddFeature(
        build_feature(
            id=f.get("id") or "",
            type=f["type"],
            coords=f["coords"],
            radius=f.get("radius"),
            layer=f.get("layer") or DEFAULT_LAYER,
            label=f.get("label") or "",
            popup=f.get("popup") or "",
            style=f.get("style"),
            limits=limits,
        )
    )


def _update_feature(f: Mapping[str, Any], limits: Limits) -> Op:
    style = f.get("style")
    if style is not None:
        check_style(
            {k: v for k, v in style.items() if v is not None} if isinstance(style, Mapping) else style
        )
    return UpdateFeature(
        id=check_id("feature", f["id"]),
        coords=f.get("coords"),  # validated against the feature's type when applied
        radius=f.get("radius"),
        layer=_opt(f, "layer", lambda v: check_id("layer", v)),
        label=_opt(f, "label", lambda v: check_text("label", v, limits.max_label)),
        popup=_opt(f, "popup", lambda v: check_text("popup", v, limits.max_popup)),
        style=dict(style) if style is not None else None,
    )


def _fit_bounds(f: Mapping[str, Any], limits: Limits) -> Op:
    return FitBounds(
        bounds=_opt(f, "bounds", lambda v: check_bounds("bounds", v)),
        feature_ids=_ids("feature_ids", f.get("feature_ids") or []),
        animate=_bool("animate", f.get("animate", True)),
    )


def _add_layer(f: Mapping[str, Any], limits: Limits) -> Op:
    lid = check_id("layer", f["id"])
    name = check_text("layer name", f.get("name") or lid, limits.max_label)
    return AddLayer(lid, name, _bool("visible", f.get("visible", True)))


def _import_geojson(f: Mapping[str, Any], limits: Limits) -> Op:
    layer = check_id("layer", f.get("layer") or DEFAULT_LAYER)
    return ImportFeatures(features_from_geojson(f["geojson"], limits, layer=layer))


_PARSERS: dict[str, Callable[[Mapping[str, Any], Limits], Op]] = {
    "set_title": lambda f, lim: SetTitle(check_text("title", f["title"], lim.max_title)),
    "set_view": lambda f, lim: SetView(
        check_latlon("center", f["center"]),
        check_zoom(f["zoom"], lim),
        _bool("animate", f.get("animate", True)),
    ),
    "fit_bounds": _fit_bounds,
    "add_feature": _add_feature,
    "update_feature": _update_feature,
    "remove_features": lambda f, lim: RemoveFeatures(_ids("ids", f["ids"])),
    "add_layer": _add_layer,
    "remove_layer": lambda f, lim: RemoveLayer(check_id("layer", f["id"])),
    "show_layer": lambda f, lim: SetLayerVisibility(check_id("layer", f["id"]), True),
    "hide_layer": lambda f, lim: SetLayerVisibility(check_id("layer", f["id"]), False),
    "clear": lambda f, lim: Clear(_opt(f, "layer", lambda v: check_id("layer", v))),
    "import_geojson": _import_geojson,
}


# --- states and events in their wire form (snapshots, Redis, replay) -----------------------


def feature_from_json(raw: Mapping[str, Any], limits: Limits = Limits()) -> Feature:
    return build_feature(
        id=raw["id"],
        type=raw["type"],
        coords=raw["coords"],
        radius=raw.get("radius"),
        layer=raw.get("layer", DEFAULT_LAYER),
        label=raw.get("label", ""),
        popup=raw.get("popup", ""),
        style=raw.get("style"),
        limits=limits,
    )


def _view_from_json(raw: Mapping[str, Any] | None) -> View | None:
    if raw is None:
        return None
    animate = bool(raw.get("animate", True))
    if "bounds" in raw:
        return View(bounds=check_bounds("bounds", raw["bounds"]), animate=animate)
    return View(center=check_latlon("center", raw["center"]), zoom=float(raw["zoom"]), animate=animate)


def _layer_from_json(raw: Mapping[str, Any]) -> Layer:
    return Layer(raw["id"], raw["name"], bool(raw["visible"]))


def state_from_json(raw: Mapping[str, Any], map_id: str, limits: Limits = Limits()) -> MapState:
    features = [feature_from_json(f, limits) for f in raw["features"]]
    return MapState(
        id=map_id,
        version=int(raw["version"]),
        title=raw["title"],
        view=_view_from_json(raw["view"]),
        layers={layer["id"]: _layer_from_json(layer) for layer in raw["layers"]},
        features={f.id: f for f in features},
        seq=int(raw["seq"]),
        points=sum(len(f.points()) for f in features),
    )


def event_from_wire(text: str | bytes, limits: Limits = Limits()) -> Event:
    """An event from its JSON text (``Event.wire``), keeping that text for re-use."""
    event = event_from_json(json.loads(text), limits)
    event.__dict__["wire"] = text.decode() if isinstance(text, bytes) else text
    return event


def event_from_json(raw: Mapping[str, Any], limits: Limits = Limits()) -> Event:
    kind = raw["kind"]
    version = int(raw["version"])
    if kind == "title":
        return Event(version, kind, title=raw["title"])
    if kind == "view":
        return Event(version, kind, view=_view_from_json(raw["view"]))
    if kind == "upsert":
        features = tuple(feature_from_json(f, limits) for f in raw["features"])
        return Event(version, kind, features=features, seq=int(raw["seq"]))
    if kind == "remove":
        return Event(version, kind, ids=tuple(raw["ids"]))
    if kind == "layer":
        return Event(version, kind, layer=_layer_from_json(raw["layer"]))
    if kind == "layer_remove":
        return Event(version, kind, layer_id=raw["id"])
    if kind == "clear":
        return Event(version, kind, layer_id=raw["layer"])
    raise InvalidInput(f"unknown event kind {kind!r:.40}")


# --- GeoJSON ---------------------------------------------------------------------------------


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


def features_from_geojson(
    raw: Any, limits: Limits = Limits(), *, layer: str = DEFAULT_LAYER
) -> tuple[Feature, ...]:
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
