"""The items of a ``draw`` call and the changes of an ``edit`` call, read into core's features and
ops. Every error names the item by its index and the field (``items[2].at``), the value given, the
form it must have and what to do.

An item's ``type`` may be left out: ``at`` makes a marker (a circle with ``radius_m``), ``points``
a line, ``bounds`` a rectangle, ``geometry`` (any GeoJSON geometry, [lon, lat]) what it is, whole:
a polygon with its holes, a MultiPolygon one multipolygon (``core.geojson.geometry_from_geojson``).
A ``route`` is a line through its points (along the roads ``by`` car, bike or foot when the server
has a router: ``tools.routing``) plus a numbered marker at each stop, labelled with the stop's place
name. An ``edit`` with ``geometry`` may change a feature's type (a polygon into a multipolygon).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapsrv.core.geojson import geometry_from_geojson
from mapsrv.core.geometry import kind_name
from mapsrv.core.model import (
    DEFAULT_LAYER,
    Feature,
    FeatureType,
    Limits,
    build_feature,
    check_bounds,
    check_color,
    check_id,
    check_number,
    check_symbol,
    check_text,
)
from mapsrv.core.ops import UpdateFeature
from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.area_items import outline_of
from mapsrv.mcp.tools.arguments import suggest
from mapsrv.mcp.tools.places import Resolver
from mapsrv.mcp.tools.schema import EDIT_SCHEMA, ITEM_FIELDS, ITEM_TYPES

__all__ = ["read_change", "read_item"]

_TYPES: dict[str, FeatureType] = {
    "marker": "marker",
    "line": "polyline",
    "polyline": "polyline",
    "polygon": "polygon",
    "circle": "circle",
    "rectangle": "rectangle",
}
_DASH = "6 6"  # what ``dash: true`` draws
_MULTI = frozenset({"multipoint", "multipolyline", "multipolygon", "collection"})
_EDIT_FIELDS = frozenset(EDIT_SCHEMA["properties"])


def _fields(name: str, raw: Any, known: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f'{name} must be an object, got {raw!r:.40}; e.g. {{"at": "Lisbon", "label": "Home"}}'
        )
    for key in raw:
        if key not in known:
            ordered = sorted(known)
            raise InvalidInput(
                f"{name} has no field {key!r:.40}{suggest(str(key), ordered)};"
                f" use one of: {', '.join(ordered)}"
            )
    return raw


_SHAPES = ("at", "points", "bounds", "geometry")


def _one_shape(name: str, item: Mapping[str, Any]) -> None:
    given = [key for key in _SHAPES if key in item]
    if "geometry" in given and len(given) > 1:
        raise InvalidInput(f"{name} must give one geometry, got {' and '.join(given)}; give geometry alone")


def _type(name: str, item: Mapping[str, Any]) -> str:
    given = item.get("type")
    if given is None:
        if "geometry" in item:
            return "geometry"
        if "points" in item:
            return "line"
        if "bounds" in item:
            return "rectangle"
        if "at" in item:
            return "circle" if "radius_m" in item else "marker"
        raise InvalidInput(
            f"{name} needs a geometry, got none of at, points, bounds, geometry;"
            ' add "at": [lat, lon] or a place name (a marker), or "points" (a line)'
        )
    if "geometry" in item:
        return "geometry"  # it says the type: read_item checks a given one against it
    if given not in ITEM_TYPES and given != "polyline":
        raise InvalidInput(f"{name}.type must be one of {', '.join(ITEM_TYPES)}, got {given!r:.40}; pick one")
    return str(given)


def _style(name: str, item: Mapping[str, Any]) -> dict[str, Any]:
    style: dict[str, Any] = {}
    for key in ("color", "fill_color"):
        if item.get(key) is not None:
            style[key] = check_color(f"{name}.{key}", item[key])
    if item.get("weight") is not None:
        style["weight"] = check_number(f"{name}.weight", item["weight"], 0, 20)
    if item.get("fill_opacity") is not None:
        style["fill_opacity"] = check_number(f"{name}.fill_opacity", item["fill_opacity"], 0, 1)
    dash = item.get("dash")
    if dash is True:
        style["dash"] = _DASH
    elif isinstance(dash, str):
        style["dash"] = dash
    elif dash not in (None, False):
        raise InvalidInput(
            f"{name}.dash must be true, false or a pattern like '6 4', got {dash!r:.40}; use true"
        )
    if item.get("symbol") is not None:
        try:
            style["symbol"] = check_symbol(item["symbol"])
        except InvalidInput as exc:
            raise InvalidInput(f"{name}.{exc.message.removeprefix('style ')}") from None
    return style


def _geometry(name: str, kind: str, item: Mapping[str, Any], places: Resolver) -> tuple[Any, float | None]:
    needs = {"marker": "at", "circle": "at", "line": "points", "polyline": "points", "polygon": "points"}
    field = needs.get(kind, "bounds")
    if field not in item:
        raise InvalidInput(f"{name}.{field} is required for a {kind}, got none; add it")
    value = item[field]
    if field == "at":
        coords: Any = places.point(f"{name}.at", value)
    elif field == "points":
        coords = places.points(f"{name}.points", value)
        least = 3 if kind == "polygon" else 2
        if len(coords) < least:
            raise InvalidInput(
                f"{name}.points needs at least {least} points for a {kind}, got {len(coords)}; add more"
            )
    elif isinstance(value, str):
        bounds = places.place(f"{name}.bounds", value).bounds
        if bounds is None:
            raise InvalidInput(
                f"{name}.bounds must be [[south, west], [north, east]] or a country or state, got the city"
                f" {value!r:.40}; draw a circle at it instead"
            )
        coords = bounds
    else:
        coords = check_bounds(f"{name}.bounds", value)
    radius = None
    if kind == "circle":
        if item.get("radius_m") is None:
            raise InvalidInput(f"{name}.radius_m must be a number of metres for a circle, got none; e.g. 500")
        radius = check_number(f"{name}.radius_m", item["radius_m"], 0.01, Limits().max_radius)
    return coords, radius


def _from_geojson(name: str, item: Mapping[str, Any], limits: Limits) -> tuple[str, Any, float | None]:
    """An item's or a change's ``geometry`` as (type, coords, radius): a Point with ``radius_m`` a
    circle. A ``type`` given beside it must name the same kind."""
    ftype, coords = geometry_from_geojson(name, item["geometry"], limits.max_points)
    radius = item.get("radius_m")
    if radius is not None:
        if ftype != "marker":
            raise InvalidInput(
                f"{name}.radius_m is only for a circle (a Point), got {radius!r:.20}"
                f" for a {kind_name(ftype)}; leave it out"
            )
        ftype, radius = "circle", check_number(f"{name}.radius_m", radius, 0.01, limits.max_radius)
    given = item.get("type")
    if given is not None and _TYPES.get(given, given) not in (ftype, kind_name(ftype)):
        raise InvalidInput(
            f"{name}.type must be its geometry's kind, {kind_name(ftype)}, got {given!r:.40}; leave type out"
        )
    return ftype, coords, radius


def read_item(index: int, raw: Any, places: Resolver, layer: str | None, limits: Limits) -> list[Feature]:
    """One ``draw`` item as the features it draws (a route draws its line, straight through its
    stops, and a marker per stop; ``tools.routing.along`` puts the line on the road)."""
    name = f"items[{index}]"
    item = _fields(name, raw, ITEM_FIELDS)
    _one_shape(name, item)
    kind = _type(name, item)
    for key in ("by", "order", "avoid"):
        if key in item and kind != "route":
            raise InvalidInput(
                f"{name}.{key} is only for a route, got it on a {kind};"
                f' add "type": "route" or leave {key} out'
            )
    style = _style(name, item)
    fid = item.get("id") or ""
    common = {
        "layer": check_id("layer", item.get("layer") or layer or DEFAULT_LAYER),
        "label": check_text(f"{name}.label", item.get("label", ""), limits.max_label),
        "popup": check_text(f"{name}.popup", item.get("popup", ""), limits.max_popup),
    }
    if fid:
        check_id(f"{name}.id: feature", fid)
    if kind == "route":
        coords, _ = _geometry(name, "line", item, places)
        line = build_feature(id=fid, type="polyline", coords=coords, style=style, limits=limits, **common)
        stops = []
        for stop, (point, given) in enumerate(zip(coords, item["points"], strict=True), start=1):
            label = places.places[given].name if isinstance(given, str) else ""
            marker_style = {"symbol": str(stop), "color": style.get("color", "#2563eb")}
            stops.append(
                build_feature(
                    id=f"{fid[:58]}.{stop}" if fid else "",
                    type="marker",
                    coords=point,
                    layer=common["layer"],
                    label=label,
                    style=marker_style,
                    limits=limits,
                )
            )
        return [line, *stops]
    if kind == "geometry":
        ftype, coords, radius = _from_geojson(name, item, limits)
    elif kind == "polygon" and "points" not in item and isinstance(item.get("bounds"), str):
        ftype, coords, area, _ = outline_of(places.outlines, f"{name}.bounds", item["bounds"])
        radius = None
        common["label"] = common["label"] or area
    else:
        ftype = _TYPES[kind]
        coords, radius = _geometry(name, kind, item, places)
    try:
        return [
            build_feature(
                id=fid, type=ftype, coords=coords, radius=radius, style=style, limits=limits, **common
            )
        ]
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.message}") from None


def read_change(
    index: int, raw: Any, places: Resolver, limits: Limits, types: Mapping[str, str] | None = None
) -> UpdateFeature:
    """One ``edit`` change as an UpdateFeature op; fields left out stay as they are. ``types``:
    the map's feature types by id, for the error a flat shape given to a multi-part feature gets."""
    name = f"changes[{index}]"
    change = _fields(name, raw, _EDIT_FIELDS)
    if "id" not in change:
        raise InvalidInput(f"{name}.id is required, got none; give the id draw returned")
    _one_shape(name, change)
    flat = next((key for key in ("at", "points", "bounds") if key in change), None)
    held = (types or {}).get(change["id"])
    if flat is not None and held in _MULTI:
        raise InvalidInput(
            f"{name}.{flat} cannot reshape {change['id']!r:.40}, a {kind_name(held)} of several parts;"
            " give geometry (GeoJSON) instead"
        )
    coords: Any = None
    ftype: str | None = None
    radius = change.get("radius_m")
    if "geometry" in change:
        ftype, coords, radius = _from_geojson(name, change, limits)
        if ftype == "marker":
            ftype = None  # a point moves a marker or a circle, as ``at`` does
    elif "at" in change:
        coords = places.point(f"{name}.at", change["at"])
    elif "points" in change:
        coords = places.points(f"{name}.points", change["points"])
    elif "bounds" in change:
        coords = check_bounds(f"{name}.bounds", change["bounds"])
    if radius is not None:
        radius = check_number(f"{name}.radius_m", radius, 0.01, limits.max_radius)
    style = _style(name, change)
    if change.get("dash") is False:
        style["dash"] = None  # merged: None removes the key
    layer = change.get("layer")
    return UpdateFeature(
        id=check_id(f"{name}.id: feature", change["id"]),
        coords=coords,
        radius=radius,
        layer=None if layer is None else check_id("layer", layer),
        label=None
        if change.get("label") is None
        else check_text(f"{name}.label", change["label"], limits.max_label),
        popup=None
        if change.get("popup") is None
        else check_text(f"{name}.popup", change["popup"], limits.max_popup),
        style=style or None,
        type=ftype,
    )
