"""The map model: immutable values and the rules every value obeys.

A map is a title, a camera view, named layers and features. Coordinates are ``(lat, lon)``
(Leaflet's order) everywhere inside mapsrv; GeoJSON's ``[lon, lat]`` exists only in the codec.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import mapsrv.core.geometry as _geometry
from mapsrv.core.geometry import GEOMETRY_TYPES, GeometryType
from mapsrv.core.nested import MAX_DEPTH, JsonArray, check_nested, check_scalar, misread_lists, per_point
from mapsrv.core.positions import Bounds, LatLon, check_bounds, check_latlon
from mapsrv.core.style import COLOR_FORMS, CSS_COLORS, STYLE_KEYS, check_color, check_style, check_symbol
from mapsrv.core.values import check_id, check_number, check_text
from mapsrv.core.values import number as _number
from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "DEFAULT_LAYER",
    "FEATURE_TYPES",
    "Bounds",
    "Feature",
    "FeatureType",
    "Layer",
    "Limits",
    "LatLon",
    "MapState",
    "NOISE",
    "COLOR_FORMS",
    "CSS_COLORS",
    "STYLE_KEYS",
    "View",
    "bounds_of",
    "build_feature",
    "check_bounds",
    "check_color",
    "check_symbol",
    "check_geometry",
    "check_number",
    "check_members",
    "check_nested",
    "check_properties",
    "check_series",
    "MAX_DEPTH",
    "JsonArray",
    "misread_lists",
    "per_point",
    "check_style",
    "check_id",
    "check_latlon",
    "check_text",
    "check_zoom",
]

FeatureType: TypeAlias = GeometryType
FEATURE_TYPES: tuple[FeatureType, ...] = GEOMETRY_TYPES
DEFAULT_LAYER = "default"
# Degrees past a limit (±90, ±180) that float noise in files reaches: GDAL writes Russia's
# eastern edge as 180.00000000000006. check_latlon stays exact; the readers of files clamp.
NOISE = 1e-9


@dataclass(frozen=True)
class Limits:
    """Caps that keep one map (and one request) from eating the process."""

    max_features: int = 100_000
    max_layers: int = 100
    max_points: int = 100_000  # per geometry: a day's GPS track at 1 Hz is one line
    max_total_points: int = 1_000_000  # per map: bounds a map's memory whatever its shapes
    max_title: int = 200
    max_label: int = 200
    max_popup: int = 4_000
    max_zoom: int = 22
    max_radius: float = 20_000_000.0  # metres; half the Earth's circumference
    max_ops: int = 1_000  # per batch


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    visible: bool = True
    # A style by value (``mapsrv.core.layer_style``), as its JSON; None: each feature's own style.
    style: Mapping[str, Any] | None = field(default=None, hash=False)
    # Where the layer comes from (``mapsrv.core.layer_source``): raster tiles the page loads
    # itself (xyz, wms), or the URL a GeoJSON or CSV was fetched from; None: drawn here.
    source: Mapping[str, Any] | None = field(default=None, hash=False)

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "name": self.name, "visible": self.visible}
        if self.style is not None:
            out["style"] = self.style
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class View:
    """Either ``center`` + ``zoom`` or ``bounds`` (fit), never both."""

    center: LatLon | None = None
    zoom: float | None = None
    bounds: Bounds | None = None
    animate: bool = True

    def to_json(self) -> dict[str, Any]:
        if self.bounds is not None:
            (s, w), (n, e) = self.bounds
            return {"bounds": [[s, w], [n, e]], "animate": self.animate}
        assert self.center is not None
        return {"center": list(self.center), "zoom": self.zoom, "animate": self.animate}


@dataclass(frozen=True)
class Feature:
    """One drawn thing. ``type`` and ``coords`` are its geometry (``mapsrv.core.geometry`` says
    each type's shape): a point for marker and circle, ``(south-west, north-east)`` for
    rectangle, points for polyline, rings, parts or members for the others."""

    id: str
    type: FeatureType
    coords: Any  # its shape follows ``type`` (``mapsrv.core.geometry``)
    layer: str = DEFAULT_LAYER
    label: str = ""
    popup: str = ""
    style: tuple[tuple[str, Any], ...] = ()
    radius: float | None = None
    # The attributes a file or dataset brought (a CSV's other columns, a GPX track's per-point
    # times and elevations), sorted by key; values are JSON scalars, tuples of them (one per
    # point) or nested JSON values as they came (dicts and lists, never changed in place).
    properties: tuple[tuple[str, Any], ...] = ()
    # A GeoJSON Feature's members that mapsrv does not use, sorted by key: the file's own ``id``
    # (a string or number, as it came) and its foreign members, written back by GeoJSON exports.
    members: tuple[tuple[str, Any], ...] = ()
    # A place's rows by time (``mapsrv.core.series``): the property holding its times, each
    # other property as long a value per time; "" for any other feature.
    series: str = ""

    def to_json(self) -> dict[str, Any]:
        # A snapshot makes one per feature: 100,000 of them are most of its time, so no call or
        # loop is spent where the common case needs none (a point, plain properties).
        kind = self.type
        out: dict[str, Any] = {
            "id": self.id,
            "type": kind,
            "layer": self.layer,
            "label": self.label,
            "popup": self.popup,
            "style": dict(self.style) if self.style else {},
            "coords": list(self.coords) if kind == "marker" else _geometry.encode(kind, self.coords),
        }
        if self.radius is not None:
            out["radius"] = self.radius
        if self.properties:
            properties = dict(self.properties)
            lists = False
            for key, value in self.properties:
                if type(value) is tuple:  # a value per point (a track's times): a list in JSON
                    properties[key] = list(value)
                elif type(value) is list:
                    lists = True
            out["properties"] = properties
            if lists and (misread := misread_lists(self.properties, self.point_count())):
                out["lists"] = misread  # arrays that are one value each, not one a point
        if self.members:  # left out when none: maps stored before it re-encode the same
            out["members"] = dict(self.members)
        if self.series:  # likewise
            out["series"] = self.series
        return out

    def points(self) -> tuple[LatLon, ...]:
        """Every position, part by part and ring by ring (``mapsrv.core.geometry.points``)."""
        return _geometry.points(self.type, self.coords)

    def point_count(self) -> int:
        return _geometry.count(self.type, self.coords)


@dataclass(frozen=True)
class MapState:
    """A whole map at one version. Values are never mutated; ops build new states."""

    id: str
    version: int = 0
    title: str = ""
    view: View | None = None
    layers: Mapping[str, Layer] = field(
        default_factory=lambda: {DEFAULT_LAYER: Layer(DEFAULT_LAYER, DEFAULT_LAYER)}
    )
    features: Mapping[str, Feature] = field(default_factory=dict)
    # Next number for generated feature ids; part of the state so replay is deterministic.
    seq: int = 1
    # Coordinates held by all features (derived; kept up to date by apply_event for the cap).
    points: int = 0
    # The file's own members beside its title (a GeoJSON FeatureCollection's foreign members),
    # sorted by key, set with the title; a GeoJSON export writes them back.
    members: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        # No id: the map id is the edit capability, and this goes to read-only viewers too.
        return {
            "version": self.version,
            "title": self.title,
            "view": self.view.to_json() if self.view else None,
            "layers": [layer.to_json() for layer in self.layers.values()],
            "features": [f.to_json() for f in self.features.values()],
            "seq": self.seq,
        } | ({"members": dict(self.members)} if self.members else {})

    def bbox(self) -> Bounds | None:
        return bounds_of(p for f in self.features.values() for p in f.points())


def bounds_of(points: Any) -> Bounds | None:
    lats: list[float] = []
    lons: list[float] = []
    for lat, lon in points:
        lats.append(lat)
        lons.append(lon)
    if not lats:
        return None
    return ((min(lats), min(lons)), (max(lats), max(lons)))


def check_zoom(value: Any, limits: Limits) -> float:
    zoom = _number("zoom", value)
    if not 0 <= zoom <= limits.max_zoom:
        raise InvalidInput(
            f"zoom must be between 0 and {limits.max_zoom}, got {zoom:g};"
            " use 2 for the world, 5 a country, 11 a city, 16 a street"
        )
    return zoom


def check_geometry(type_: Any, coords: Any, radius: Any, limits: Limits) -> tuple[Any, float | None]:
    """Validate ``coords`` (and ``radius``) for a feature type; returns them normalised
    (``mapsrv.core.geometry.check``: rings unclosed, a polygon of one ring in its flat form)."""
    if type_ not in FEATURE_TYPES:
        raise InvalidInput(
            f"feature type must be one of {', '.join(FEATURE_TYPES)}, got {type_!r:.40}; pick one of those"
        )
    if type_ == "circle":
        if radius is None:
            raise InvalidInput("radius must be a number of metres for a circle, got none; e.g. 500")
        return check_latlon("center", coords), check_number("radius", radius, 0.01, limits.max_radius)
    if radius is not None:
        raise InvalidInput(
            f"radius must be left out for a {type_}, got {radius!r:.20} (radius applies only to circles);"
            " draw a circle instead"
        )
    return _geometry.check(
        type_, coords, limits.max_points, "bounds" if type_ == "rectangle" else "coords"
    ), None


def build_feature(
    *,
    id: Any,
    type: Any,
    coords: Any,
    radius: Any = None,
    layer: Any = DEFAULT_LAYER,
    label: Any = "",
    popup: Any = "",
    style: Any = None,
    properties: Any = None,
    members: Any = None,
    series: Any = "",
    limits: Limits,
) -> Feature:
    """Every rule a feature obeys, in one place. An empty id is filled in by ``apply``."""
    if id != "":
        check_id("feature", id)
    coords, radius = check_geometry(type, coords, radius, limits)
    points = _geometry.count(type, coords)
    if series and isinstance(properties, Mapping) and isinstance(properties.get(series), (list, tuple)):
        points = max(points, len(properties[series]))  # a series' lists are one value a time
    properties = check_properties(properties, limits, points)
    return Feature(
        id=id,
        type=type,
        coords=coords,
        radius=radius,
        layer=check_id("layer", layer),
        label=check_text("label", label, limits.max_label),
        popup=check_text("popup", popup, limits.max_popup),
        style=check_style(style),
        properties=properties,
        members=check_members(members, limits),
        series=check_series(series, type, properties),
    )


def check_series(value: Any, type_: Any, properties: tuple[tuple[str, Any], ...]) -> str:
    """A series' time property (``mapsrv.core.series``): "" for none, else a property of an
    area or point holding a list of times (a line's lists are one value a point)."""
    if value == "":
        return ""
    held = dict(properties).get(value) if isinstance(value, str) else None
    if not isinstance(held, (tuple, list)) or not held:
        raise InvalidInput(
            f"series must name a property holding a list of times, got {value!r:.40}; e.g. 'year'"
            " holding [1952, 1957]"
        )
    if type_ in ("polyline", "multipolyline"):
        raise InvalidInput(
            f"series applies to areas and points, got a {type_}; a line's lists are one value a point"
        )
    return str(value)


# Keys per feature: Natural Earth has 168 columns, a dBase file up to 255, a GeoPackage 2,000.
MAX_PROPERTIES = 1_000
_KEY_RE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
# keys found good already: a file names the same few keys on every row, and checking each row's
# was a third of a 100,000-point read's checks (bounded: a file of a new key a row checks each)
_GOOD_KEYS: set[str] = set()
_GOOD_KEYS_MOST = 4096


def check_properties(value: Any, limits: Limits, points: int = 1) -> tuple[tuple[str, Any], ...]:
    """A feature's attributes: an object of at most ``MAX_PROPERTIES`` keys whose values are strings, numbers,
    booleans, null, lists of those with at most one item per point (kept as tuples), or nested
    objects and arrays (kept as they came, at most ``MAX_DEPTH`` deep and ``max_popup`` characters)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"properties must be an object, got {type(value).__name__} {value!r:.40};"
            ' e.g. {"population": 2100000}'
        )
    return _checked_members("properties", value, limits, points)


def check_members(value: Any, limits: Limits) -> tuple[tuple[str, Any], ...]:
    """A GeoJSON Feature's own members mapsrv keeps for the file (its ``id``, foreign members):
    the rules of ``check_properties``, each value kept as it came (no per-point lists)."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"members must be an object, got {type(value).__name__} {value!r:.40}; give {{name: value}} pairs"
        )
    checked = _checked_members("members", value, limits, 0)
    return tuple((k, list(v) if isinstance(v, tuple) else v) for k, v in checked)


def _checked_members(
    what: str, value: Mapping[Any, Any], limits: Limits, points: int
) -> tuple[tuple[str, Any], ...]:
    if len(value) > MAX_PROPERTIES:
        raise PayloadTooLarge(
            f"{what} must have at most {MAX_PROPERTIES} keys (MAX_PROPERTIES, a feature's cap),"
            f" got {len(value)}; keep the ones that matter"
        )
    out: list[tuple[str, Any]] = []
    for key, item in value.items():
        if key not in _GOOD_KEYS:
            if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
                raise InvalidInput(
                    f"{what} key must be 1-64 printable characters, got {key!r:.70}; rename it"
                )
            if len(_GOOD_KEYS) < _GOOD_KEYS_MOST:
                _GOOD_KEYS.add(key)
        kind = type(item)
        if (
            item is None
            or kind is int
            or kind is bool
            or (kind is str and len(item) <= limits.max_popup)
            or (kind is float and math.isfinite(item))
        ):
            out.append((key, item))  # a plain scalar: what _scalar returns for it, without its name
            continue
        name = f"{what}.{key}"
        if isinstance(item, (list, tuple)) and kind is not JsonArray and points and per_point(item, points):
            item = tuple(item)
        elif isinstance(item, (Mapping, list, tuple)):
            plain = kind is tuple or kind is JsonArray  # held as a list: a list is never per point
            item = check_nested(name, list(item) if plain else item, limits.max_popup)
        else:
            item = check_scalar(name, item, limits.max_popup)
        out.append((key, item))
    return tuple(out)  # in the order they came: a file's columns stay in its order (issue 75)
