"""Ops from untrusted request bodies (the JSON ops endpoint, the MCP tools' GeoJSON import).

Everything read here is validated against explicit ``Limits`` and raises ``InvalidInput`` (or
``PayloadTooLarge``) naming the bad field. Data mapsrv wrote itself is decoded by the codec
instead, without these checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.model import (
    DEFAULT_LAYER,
    FEATURE_TYPES,
    Limits,
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
    FitBounds,
    ImportFeatures,
    Op,
    RemoveFeatures,
    RemoveLayer,
    SetLayerStyle,
    SetLayerVisibility,
    SetTitle,
    SetView,
    UpdateFeature,
)
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["OP_FIELDS", "parse_op", "parse_ops"]


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
        frozenset({"type", "coords", "radius", "layer", "label", "popup", "style"}),
    ),
    "remove_features": (frozenset({"ids"}), frozenset()),
    "add_layer": (frozenset({"id"}), frozenset({"name", "visible"})),
    "remove_layer": (frozenset({"id"}), frozenset()),
    "show_layer": (frozenset({"id"}), frozenset()),
    "hide_layer": (frozenset({"id"}), frozenset()),
    "clear": (frozenset(), frozenset({"layer"})),
    # checked when applied: its breaks and categories come from the layer's features
    "set_layer_style": (frozenset({"layer", "style"}), frozenset()),
    "import_geojson": (frozenset({"geojson"}), frozenset({"layer"})),
}


def parse_ops(body: Any, limits: Limits) -> tuple[list[Op], int | None]:
    """A request body: ``{"ops": [...], "expected_version": n}`` or one op object."""
    if not isinstance(body, Mapping):
        raise InvalidInput(f'body must be a JSON object, got {type(body).__name__}; send {{"ops": [...]}}')
    expected = body.get("expected_version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise InvalidInput(
            f"expected_version must be an integer, got {expected!r:.40}; give the version a write returned"
        )
    if "op" in body:
        raw_ops: Any = [{k: v for k, v in body.items() if k != "expected_version"}]
    else:
        extra = set(body) - {"ops", "expected_version"}
        if extra:
            raise InvalidInput(
                f"body field must be ops or expected_version, got {sorted(extra)[0]!r:.40}"
                f' (unknown field {sorted(extra)[0]!r:.40}); send {{"ops": [...]}}'
            )
        raw_ops = body.get("ops")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise InvalidInput(
            f'ops must be a non-empty list of op objects, got {raw_ops!r:.40}; e.g. [{{"op": "clear"}}]'
        )
    if len(raw_ops) > limits.max_ops:
        raise PayloadTooLarge(
            f"ops must be at most {limits.max_ops} in a batch, got {len(raw_ops)}; split the batch"
        )
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


def parse_op(raw: Any, limits: Limits) -> Op:
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f'an op must be a JSON object, got {raw!r:.40}; e.g. {{"op": "set_title", "title": "Trip"}}'
        )
    name = raw.get("op")
    if not isinstance(name, str) or name not in OP_FIELDS:
        raise InvalidInput(
            f"op must be one of {', '.join(OP_FIELDS)}, got {name!r:.40} (unknown op); use one of those"
        )
    required, optional = OP_FIELDS[name]
    fields = {k: v for k, v in raw.items() if k != "op"}
    for key in fields:
        if key not in required and key not in optional:
            known = ", ".join(sorted(required | optional))
            raise InvalidInput(f"{name} has no field {key!r:.40}; its fields are {known}")
    for key in required:
        if key not in fields:
            raise InvalidInput(f"{name} needs the field {key!r}, got none; add it")
    return _PARSERS[name](fields, limits)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, got {value!r:.40}; use a JSON boolean")
    return value


def _ids(name: str, value: Any, kind: str = "feature") -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f'{name} must be a list of ids, got {value!r:.40}; e.g. ["f1", "f2"]')
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
        coords=f.get("coords"),  # validated against the feature's (new) type when applied
        radius=f.get("radius"),
        layer=_opt(f, "layer", lambda v: check_id("layer", v)),
        label=_opt(f, "label", lambda v: check_text("label", v, limits.max_label)),
        popup=_opt(f, "popup", lambda v: check_text("popup", v, limits.max_popup)),
        style=dict(style) if style is not None else None,
        type=_opt(f, "type", _feature_type),
    )


def _feature_type(value: Any) -> str:
    if value not in FEATURE_TYPES:
        raise InvalidInput(
            f"feature type must be one of {', '.join(FEATURE_TYPES)}, got {value!r:.40}; pick one of those"
        )
    return str(value)


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


def _set_layer_style(f: Mapping[str, Any], limits: Limits) -> Op:
    style = f["style"]
    if style is not None and not isinstance(style, Mapping):
        raise InvalidInput(
            f'style must be an object or null, got {type(style).__name__}; e.g. {{"by": "population"}}'
        )
    return SetLayerStyle(check_id("layer", f["layer"]), style)


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
    "set_layer_style": _set_layer_style,
}
