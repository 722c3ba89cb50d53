"""The tools' argument types as an LLM sees them: descriptions and ranges that become the tools'
JSON schemas. Every range that core also enforces is read from ``Limits()`` here, once, so the
schema and the rule cannot drift apart (the hub may lower ``max_features``, which no schema states).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from mapsrv.core.model import Limits

__all__ = [
    "LIMITS",
    "MAX_LISTED",
    "Animate",
    "Color",
    "Expected",
    "FeatureId",
    "FeatureIds",
    "FillOpacity",
    "GeoJson",
    "Label",
    "Lat",
    "LayerId",
    "LayerName",
    "Lon",
    "MapId",
    "Point",
    "Popup",
    "Radius",
    "Title",
    "Weight",
    "Zoom",
]

LIMITS = Limits()
MAX_LISTED = 1000  # get_map lists at most this many features; a reading cap, not a map rule

MapId = Annotated[str, Field(description="the map's id (from create_map, or the code the user pasted)")]
Lat = Annotated[float, Field(ge=-90, le=90, description="latitude in degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude in degrees")]
Point = Annotated[list[float], Field(min_length=2, max_length=2, description="[lat, lon]")]
Title = Annotated[str, Field(max_length=LIMITS.max_title)]
Label = Annotated[str, Field(max_length=LIMITS.max_label, description="short text shown next to the feature")]
Popup = Annotated[
    str, Field(max_length=LIMITS.max_popup, description="longer text shown when the feature is clicked")
]
LayerName = Annotated[str, Field(max_length=LIMITS.max_label, description="name shown to the user")]
Zoom = Annotated[
    float,
    Field(ge=0, le=LIMITS.max_zoom, description="0 shows the world, 5 a country, 12 a city, 17 a street"),
]
Radius = Annotated[float, Field(gt=0, le=LIMITS.max_radius)]
Weight = Annotated[float | None, Field(ge=0, le=20, description="line width in pixels")]
FillOpacity = Annotated[float | None, Field(ge=0, le=1)]
Color = Annotated[str | None, Field(description="CSS colour: #rgb, #rrggbb or a name like 'red'")]
FeatureId = Annotated[
    str | None, Field(description="your own id (letters, digits, _.:-); generated when omitted")
]
FeatureIds = Annotated[list[str], Field(min_length=1, description="ids of the features to remove")]
LayerId = Annotated[
    str | None, Field(description="layer to draw on (default: 'default'); created when missing")
]
Expected = Annotated[
    int | None, Field(description="fail with a conflict unless the map is still at this version")
]
Animate = Annotated[bool, Field(description="fly there smoothly")]
GeoJson = Annotated[
    dict[str, Any], Field(description="a GeoJSON FeatureCollection or Feature ([lon, lat] order)")
]
