"""The tools' argument types as an LLM sees them: the JSON schemas of tools/list.

Every byte here is read by the model before any work (the whole list is pinned at <= 15.5 KB by
tests/mcp/tools), so descriptions say only what the names and types do not. Ranges that core also
enforces are read from ``Limits()`` once, so the schema and the rule cannot drift apart; ranges on
coordinates and numbers are *documented* (``minimum``/``maximum``) but checked by core, whose
errors teach (a swapped pair, the valid range, what to do), not by pydantic.

``lean`` strips what pydantic adds and no model needs: titles, ``null`` alternatives of optional
arguments, ``"default": null``, ``"additionalProperties": true``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from mapsrv.core.model import Limits

__all__ = [
    "EDIT_SCHEMA",
    "ITEM_FIELDS",
    "ITEM_SCHEMA",
    "ITEM_TYPES",
    "LIMITS",
    "MAX_ITEMS",
    "MAX_READ",
    "Animate",
    "Base",
    "Bounds",
    "Changes",
    "Expected",
    "FeatureIds",
    "GeoJson",
    "Items",
    "Lat",
    "LayerId",
    "Lon",
    "MapId",
    "OptionalMapId",
    "PlaceOrPoint",
    "Points",
    "Title",
    "Unit",
    "Zoom",
    "lean",
]

LIMITS = Limits()
MAX_ITEMS = 1_000  # items per draw call (a batch; core caps a map at Limits.max_features)
MAX_READ = 200  # features per read page

ITEM_TYPES = ("marker", "line", "polygon", "circle", "rectangle", "route")

_POINT: dict[str, Any] = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_PLACE_OR_POINT: dict[str, Any] = {"anyOf": [_POINT, {"type": "string"}]}

_STYLE: dict[str, Any] = {
    "label": {"type": "string", "maxLength": LIMITS.max_label, "description": "always shown"},
    "popup": {"type": "string", "maxLength": LIMITS.max_popup, "description": "shown on click"},
    "color": {"type": "string", "description": "#rrggbb or a CSS name (red, navy...)"},  # all: COLOR_FORMS
    "fill_color": {"type": "string"},
    "fill_opacity": {"type": "number", "minimum": 0, "maximum": 1},
    "weight": {"type": "number", "minimum": 0, "maximum": 20, "description": "line px"},
    "dash": {"type": ["boolean", "string"], "description": "true or a pattern: '6 4'"},
    "symbol": {"type": "string", "description": "marker text: 1-3 letters/digits or an emoji"},
    "layer": {"type": "string", "description": "created when missing"},
}
_GEOMETRY: dict[str, Any] = {
    "at": {**_PLACE_OR_POINT, "description": "marker/circle: [lat, lon] or a place name"},
    "points": {
        "type": "array",
        "items": _PLACE_OR_POINT,
        "description": "line/polygon/route: [lat, lon]s or place names",
    },
    "radius_m": {"type": "number", "exclusiveMinimum": 0, "maximum": LIMITS.max_radius},
    "bounds": {
        "anyOf": [{"type": "array", "items": _POINT, "minItems": 2, "maxItems": 2}, {"type": "string"}],
        "description": "rectangle: [[s, w], [n, e]] or a place; polygon: its outline",
    },
    "geometry": {"type": "object", "description": "any GeoJSON geometry, [lon, lat]"},
}
ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {
            "enum": list(ITEM_TYPES),
            "description": "default: from the geometry; route: numbered stops",
        },
        **_GEOMETRY,
        **_STYLE,
        "by": {"enum": ["car", "bike", "foot"], "description": "route: along the roads by (default car)"},
        "order": {"enum": ["given", "best"], "description": "route: best = quickest, first/last kept"},
        "avoid": {"type": "array", "items": {"enum": ["tolls", "highways", "ferries"]}},
        "id": {"type": "string", "description": "your id; generated when left out"},
    },
    "anyOf": [{"required": [key]} for key in ("at", "points", "bounds", "geometry")],
    "additionalProperties": False,
}
ITEM_FIELDS = frozenset(ITEM_SCHEMA["properties"])
EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, **_GEOMETRY, **_STYLE},
    "required": ["id"],
    "additionalProperties": False,
}


def _loose(schema: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema(schema)


MapId = Annotated[str, Field(description="create_map's or the user's code")]
OptionalMapId = Annotated[str | None, Field(description="left out: a new map (url returned)")]
Items = Annotated[
    list[dict[str, Any]],
    Field(max_length=MAX_ITEMS),
    _loose({"type": "array", "items": ITEM_SCHEMA, "maxItems": MAX_ITEMS}),
]
Changes = Annotated[
    list[dict[str, Any]], Field(min_length=1), _loose({"type": "array", "items": EDIT_SCHEMA})
]
PlaceOrPoint = Annotated[Any, _loose({**_PLACE_OR_POINT, "description": "[lat, lon] or a place name"})]
Points = Annotated[list[Any], _loose({"type": "array", "items": _PLACE_OR_POINT, "minItems": 2})]
Bounds = Annotated[
    Any, _loose({**_GEOMETRY["bounds"], "description": "[[south, west], [north, east]] or a place name"})
]
Lat = Annotated[float, _loose({"type": "number", "minimum": -90, "maximum": 90})]
Lon = Annotated[float, _loose({"type": "number", "minimum": -180, "maximum": 180})]
Zoom = Annotated[
    float | None,
    _loose(
        {
            "type": "number",
            "minimum": 0,
            "maximum": LIMITS.max_zoom,
            "description": "2 world, 5 country, 11 city",
        }
    ),
]
Title = Annotated[str, Field(max_length=LIMITS.max_title)]
FeatureIds = Annotated[list[str] | None, Field(description="ids, or runs f1-f9")]
LayerId = Annotated[str | None, Field(description="a layer id")]
Expected = Annotated[int | None, Field(description="fail unless the map is at this version")]
Base = Annotated[
    int | None, Field(description="the version you read: fail only if what you change changed since")
]
Animate = Annotated[bool, Field(description="fly there smoothly")]
GeoJson = Annotated[dict[str, Any] | None, Field(description="a FeatureCollection or Feature, [lon, lat]")]
Unit = Annotated[
    Literal["km", "m", "mi", "nmi", "ft"], Field(description="areas: km2, ha for m, mi2, acres for ft")
]


def lean(schema: Any) -> Any:
    """``schema`` without pydantic's titles, ``null`` alternatives, ``"default": null`` and
    ``"additionalProperties": true`` (JSON Schema's default)."""
    if isinstance(schema, list):
        return [lean(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key == "properties":
            out[key] = {name: lean(prop) for name, prop in value.items()}
            continue
        out[key] = lean(value)
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del out["anyOf"]
        out = {**rest[0], **out} if len(rest) == 1 else {"anyOf": rest, **out}
    return out
