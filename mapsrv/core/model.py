"""The map model: immutable values and the rules every value obeys.

A map is a title, a camera view, named layers and features. Coordinates are ``(lat, lon)``
(Leaflet's order) everywhere inside mapsrv; GeoJSON's ``[lon, lat]`` exists only in the codec.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

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
    "check_style",
    "check_id",
    "check_latlon",
    "check_text",
    "check_zoom",
]

LatLon: TypeAlias = tuple[float, float]
Bounds: TypeAlias = tuple[LatLon, LatLon]
FeatureType: TypeAlias = Literal["marker", "polyline", "polygon", "circle", "rectangle"]
FEATURE_TYPES: tuple[FeatureType, ...] = ("marker", "polyline", "polygon", "circle", "rectangle")
DEFAULT_LAYER = "default"

_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


@dataclass(frozen=True)
class Limits:
    """Caps that keep one map (and one request) from eating the process."""

    max_features: int = 10_000
    max_layers: int = 100
    max_points: int = 10_000  # per geometry
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

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "visible": self.visible}


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
    """One drawn thing. ``coords`` is a point for marker and circle, a list of points for
    polyline and polygon, and ``(south-west, north-east)`` for rectangle."""

    id: str
    type: FeatureType
    coords: Any  # LatLon | tuple[LatLon, ...]; its shape follows ``type``
    layer: str = DEFAULT_LAYER
    label: str = ""
    popup: str = ""
    style: tuple[tuple[str, Any], ...] = ()
    radius: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "layer": self.layer,
            "label": self.label,
            "popup": self.popup,
            "style": dict(self.style),
        }
        if self.type in ("marker", "circle"):
            out["coords"] = list(self.coords)
        else:
            out["coords"] = [list(p) for p in self.coords]
        if self.radius is not None:
            out["radius"] = self.radius
        return out

    def points(self) -> tuple[LatLon, ...]:
        if self.type in ("marker", "circle"):
            return (self.coords,)
        return tuple(self.coords)


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

    def to_json(self) -> dict[str, Any]:
        # No id: the map id is the edit capability, and this goes to read-only viewers too.
        return {
            "version": self.version,
            "title": self.title,
            "view": self.view.to_json() if self.view else None,
            "layers": [layer.to_json() for layer in self.layers.values()],
            "features": [f.to_json() for f in self.features.values()],
            "seq": self.seq,
        }

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


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r:.40}; write it as a plain JSON number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(
            f"{name} must be a finite number, got a {len(str(value))}-digit integer; give degrees or metres"
        ) from None
    if not math.isfinite(number):
        raise InvalidInput(f"{name} must be a finite number, got {number}; give a real value")
    return number


def check_latlon(name: str, value: Any) -> LatLon:
    """A ``[lat, lon]`` pair, in range."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidInput(
            f"{name} must be a [lat, lon] pair, got {value!r:.60}; give two numbers, e.g. [48.85, 2.35]"
        )
    lat = _number(f"{name} latitude", value[0])
    lon = _number(f"{name} longitude", value[1])
    if not -90.0 <= lat <= 90.0:
        if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
            hint = f"this looks like [lon, lat]: swap them to [{lon:g}, {lat:g}]"
        else:
            hint = "latitude is degrees north (+) or south (-) of the equator"
        raise InvalidInput(f"{name} latitude must be between -90 and 90, got {lat:g}; {hint}")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(
            f"{name} longitude must be between -180 and 180, got {lon:g}; subtract 360 from longitudes east of 180"
            if lon > 180
            else f"{name} longitude must be between -180 and 180, got {lon:g}; add 360 to longitudes west of -180"
        )
    return (lat, lon)


def check_bounds(name: str, value: Any) -> Bounds:
    """``[[south, west], [north, east]]`` with south <= north and west <= east."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidInput(
            f"{name} must be [[south, west], [north, east]], got {value!r:.60}; e.g. [[48.8, 2.2], [48.9, 2.5]]"
        )
    sw = check_latlon(f"{name} south-west", value[0])
    ne = check_latlon(f"{name} north-east", value[1])
    if sw[0] > ne[0]:
        raise InvalidInput(
            f"{name} south must be at most north, got south {sw[0]:g} and north {ne[0]:g};"
            f" swap them: [[{ne[0]:g}, {sw[1]:g}], [{sw[0]:g}, {ne[1]:g}]] (south {sw[0]:g} is north of north)"
        )
    if sw[1] > ne[1]:
        raise InvalidInput(
            f"{name} west must be at most east, got west {sw[1]:g} and east {ne[1]:g}"
            f" (bounds west {sw[1]:g} is east of east {ne[1]:g}); swap them,"
            " or split a box across the 180th meridian in two (wrapping boxes are not supported)"
        )
    return (sw, ne)


def check_zoom(value: Any, limits: Limits) -> float:
    zoom = _number("zoom", value)
    if not 0 <= zoom <= limits.max_zoom:
        raise InvalidInput(
            f"zoom must be between 0 and {limits.max_zoom}, got {zoom:g};"
            " use 2 for the world, 5 a country, 11 a city, 16 a street"
        )
    return zoom


def check_number(name: str, value: Any, low: float, high: float) -> float:
    number = _number(name, value)
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {number:g}; give a value in range")
    return number


def check_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidInput(
            f"{kind} id must be 1-64 characters of letters, digits and _.:-, got {value!r:.80};"
            " e.g. 'stop-1' (leave a feature id out to get one generated)"
        )
    return value


def check_text(name: str, value: Any, cap: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__} {value!r:.40}; quote it")
    if len(value) > cap:
        raise PayloadTooLarge(
            f"{name} must be at most {cap} characters, got {len(value)}; shorten it"
            + ("" if name == "popup" else " (longer text belongs in the popup)")
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} must be valid text, got a lone surrogate in {value!r:.40}; send UTF-8 text"
        ) from None
    return value


_HEX_RE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DASH_RE = re.compile(r"[0-9]{1,3}(?: [0-9]{1,3}){0,7}")
STYLE_KEYS = ("color", "weight", "opacity", "fill_color", "fill_opacity", "dash", "symbol")
# The CSS named colours (CSS Color 4), so a name the page cannot draw is refused, not ignored.
CSS_COLORS = frozenset(
    """aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet
    brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue
    darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange
    darkorchid darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise
    darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia
    gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo
    ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue
    lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon
    mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue
    mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin
    navajowhite navy oldlace olive olivedrab orange orangered orchid palegoldenrod palegreen
    paleturquoise palevioletred papayawhip peachpuff peru pink plum powderblue purple rebeccapurple red
    rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue
    slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white
    whitesmoke yellow yellowgreen""".split()
)
COLOR_FORMS = "#rgb, #rrggbb or a CSS colour name (red, navy, teal, orange, ...)"
MAX_SYMBOL = 8  # code points: one emoji with its modifiers and joiners


def check_color(name: str, value: Any) -> str:
    """A CSS colour the page can draw: ``#rgb``, ``#rrggbb`` or a CSS name (any case)."""
    if isinstance(value, str) and (_HEX_RE.fullmatch(value) or value.lower() in CSS_COLORS):
        return value
    hint = "e.g. 'red' or '#cc0033'"
    if isinstance(value, str):
        close = difflib.get_close_matches(value.lower().replace(" ", ""), CSS_COLORS, n=1, cutoff=0.75)
        if close:
            hint = f"did you mean {close[0]!r}?"
    raise InvalidInput(f"{name} must be {COLOR_FORMS}, got {value!r:.40}; {hint}")


def check_symbol(value: Any) -> str:
    """What a marker shows inside its dot: 1-3 letters or digits ("1", "A", "P2"), or one emoji."""
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SYMBOL
        and value.isprintable()
        and not any(c.isspace() for c in value)
        and ((value.isalnum() and len(value) <= 3) or not value.isascii())
    )
    if not ok:
        raise InvalidInput(
            f"style symbol must be 1-3 letters or digits, or one emoji, got {value!r:.40};"
            " e.g. '1' for the first stop of a route, 'A', or '🏨'"
        )
    return str(value)


def check_style(value: Any) -> tuple[tuple[str, Any], ...]:
    """A style mapping, as sorted pairs so that equal styles compare equal."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"style must be an object, got {type(value).__name__}; e.g. {{\"color\": \"red\"}}"
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if key in ("color", "fill_color"):
            item = check_color(f"style {key}", item)
        elif key == "weight":
            item = check_number("style weight", item, 0, 20)
        elif key in ("opacity", "fill_opacity"):
            item = check_number(f"style {key}", item, 0, 1)
        elif key == "dash":
            if not isinstance(item, str) or not _DASH_RE.fullmatch(item):
                raise InvalidInput(
                    f"style dash must be numbers separated by spaces, got {item!r:.40};"
                    " e.g. '6 4' (6 px dash, 4 px gap)"
                )
        elif key == "symbol":
            item = check_symbol(item)
        else:
            raise InvalidInput(
                f"style key must be one of {', '.join(STYLE_KEYS)}, got {key!r:.40}"
                f" (unknown style key); remove it or use one of those"
            )
        out[key] = item
    return tuple(sorted(out.items()))


def _check_points(name: str, value: Any, minimum: int, limits: Limits) -> tuple[LatLon, ...]:
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(
            f"{name} must be a list of [lat, lon] points, got {type(value).__name__} {value!r:.40};"
            " e.g. [[48.85, 2.35], [51.51, -0.13]]"
        )
    if len(value) > limits.max_points:
        raise PayloadTooLarge(
            f"{name} must have at most {limits.max_points} points, got {len(value)}; simplify the shape"
        )
    if len(value) < minimum:
        raise InvalidInput(
            f"{name} needs at least {minimum} points, got {len(value)}; add points"
            + (" or draw a marker" if minimum == 2 else " or draw a line")
        )
    return tuple(check_latlon(f"{name}[{i}]", p) for i, p in enumerate(value))


def check_geometry(type_: Any, coords: Any, radius: Any, limits: Limits) -> tuple[Any, float | None]:
    """Validate ``coords`` (and ``radius``) for a feature type; returns them normalised."""
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
    if type_ == "marker":
        return check_latlon("coords", coords), None
    if type_ == "polyline":
        return _check_points("coords", coords, 2, limits), None
    if type_ == "polygon":
        return _check_points("coords", coords, 3, limits), None
    return check_bounds("bounds", coords), None


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
    limits: Limits,
) -> Feature:
    """Every rule a feature obeys, in one place. An empty id is filled in by ``apply``."""
    if id != "":
        check_id("feature", id)
    coords, radius = check_geometry(type, coords, radius, limits)
    return Feature(
        id=id,
        type=type,
        coords=coords,
        radius=radius,
        layer=check_id("layer", layer),
        label=check_text("label", label, limits.max_label),
        popup=check_text("popup", popup, limits.max_popup),
        style=check_style(style),
    )
