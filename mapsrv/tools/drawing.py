"""Tools that draw on a map: add each kind of feature, change or remove features, import GeoJSON.
Each returns the ids of the features it added or changed, to update or remove them later."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.model import DEFAULT_LAYER, FeatureType, build_feature, check_id, check_style, check_text
from mapsrv.core.ops import AddFeature, ImportFeatures, RemoveFeatures, UpdateFeature
from mapsrv.errors import InvalidInput
from mapsrv.tools.context import ToolContext
from mapsrv.tools.results import WriteResult, answer
from mapsrv.tools.schema import (
    Color,
    Expected,
    FeatureId,
    FeatureIds,
    FillOpacity,
    GeoJson,
    Label,
    Lat,
    LayerId,
    Lon,
    MapId,
    Point,
    Popup,
    Radius,
    Weight,
)

__all__ = [
    "add_circle",
    "add_line",
    "add_marker",
    "add_polygon",
    "add_rectangle",
    "import_geojson",
    "remove_features",
    "update_feature",
]


def _style(**items: Any) -> dict[str, Any] | None:
    style = {k: v for k, v in items.items() if v is not None}
    return style or None


async def _add(
    tc: ToolContext,
    map_id: str,
    expected_version: int | None,
    type: FeatureType,
    coords: Any,
    *,
    id: str | None,
    layer: str | None,
    label: str,
    popup: str,
    style: dict[str, Any] | None,
    radius: float | None = None,
) -> CallToolResult:
    feature = build_feature(
        id=id or "",
        type=type,
        coords=coords,
        radius=radius,
        layer=layer or DEFAULT_LAYER,
        label=label,
        popup=popup,
        style=style,
        limits=tc.hub.limits,
    )
    written = await tc.write(map_id, AddFeature(feature), expected_version)
    return answer(f"added {type} {written.feature_ids[0]} (map version {written.version})", written)


async def add_marker(
    tc: ToolContext,
    map_id: MapId,
    lat: Lat,
    lon: Lon,
    label: Label = "",
    popup: Popup = "",
    color: Color = None,
    id: FeatureId = None,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Put a marker (a pin, or a coloured dot when color is given) at a point."""
    style = _style(color=color)
    return await _add(
        tc,
        map_id,
        expected_version,
        "marker",
        (lat, lon),
        id=id,
        layer=layer,
        label=label,
        popup=popup,
        style=style,
    )


async def add_line(
    tc: ToolContext,
    map_id: MapId,
    points: Annotated[list[Point], Field(min_length=2, description="[[lat, lon], ...] in order")],
    label: Label = "",
    popup: Popup = "",
    color: Color = None,
    weight: Weight = None,
    dash: Annotated[str | None, Field(description="dash pattern like '6 4'; omit for solid")] = None,
    id: FeatureId = None,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Draw a line through points (a route, a track, a border)."""
    style = _style(color=color, weight=weight, dash=dash)
    return await _add(
        tc,
        map_id,
        expected_version,
        "polyline",
        points,
        id=id,
        layer=layer,
        label=label,
        popup=popup,
        style=style,
    )


async def add_polygon(
    tc: ToolContext,
    map_id: MapId,
    points: Annotated[
        list[Point], Field(min_length=3, description="the outline [[lat, lon], ...]; not closed")
    ],
    label: Label = "",
    popup: Popup = "",
    color: Color = None,
    fill_color: Color = None,
    fill_opacity: FillOpacity = None,
    id: FeatureId = None,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Draw a filled area given by its outline."""
    style = _style(color=color, fill_color=fill_color, fill_opacity=fill_opacity)
    return await _add(
        tc,
        map_id,
        expected_version,
        "polygon",
        points,
        id=id,
        layer=layer,
        label=label,
        popup=popup,
        style=style,
    )


async def add_circle(
    tc: ToolContext,
    map_id: MapId,
    lat: Lat,
    lon: Lon,
    radius_m: Annotated[Radius, Field(description="radius in metres")],
    label: Label = "",
    popup: Popup = "",
    color: Color = None,
    fill_opacity: FillOpacity = None,
    id: FeatureId = None,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Draw a circle of a real-world radius around a point (an area of reach, a search zone)."""
    style = _style(color=color, fill_opacity=fill_opacity)
    return await _add(
        tc,
        map_id,
        expected_version,
        "circle",
        (lat, lon),
        radius=radius_m,
        id=id,
        layer=layer,
        label=label,
        popup=popup,
        style=style,
    )


async def add_rectangle(
    tc: ToolContext,
    map_id: MapId,
    south: Lat,
    west: Lon,
    north: Lat,
    east: Lon,
    label: Label = "",
    popup: Popup = "",
    color: Color = None,
    id: FeatureId = None,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Draw a latitude/longitude box."""
    box = ((south, west), (north, east))
    style = _style(color=color)
    return await _add(
        tc,
        map_id,
        expected_version,
        "rectangle",
        box,
        id=id,
        layer=layer,
        label=label,
        popup=popup,
        style=style,
    )


async def update_feature(
    tc: ToolContext,
    map_id: MapId,
    feature_id: Annotated[str, Field(description="the id returned when the feature was added")],
    label: Label | None = None,
    popup: Popup | None = None,
    color: Color = None,
    points: Annotated[
        list[Point] | None, Field(description="new geometry: [[lat, lon], ...] for lines and polygons")
    ] = None,
    lat: Lat | None = None,
    lon: Lon | None = None,
    radius_m: Radius | None = None,
    layer: Annotated[str | None, Field(description="move the feature to this existing layer")] = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Change a feature's text, colour, position or layer; fields left out stay as they are.
    Use lat/lon to move a marker or circle, points for a line or polygon."""
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon to move a feature")
    limits = tc.hub.limits
    style = _style(color=color)
    op = UpdateFeature(
        id=check_id("feature", feature_id),
        # the new geometry is checked against the feature's type when applied
        coords=(lat, lon) if lat is not None else points,
        radius=radius_m,
        layer=None if layer is None else check_id("layer", layer),
        label=None if label is None else check_text("label", label, limits.max_label),
        popup=None if popup is None else check_text("popup", popup, limits.max_popup),
        style=None if style is None else dict(check_style(style)),
    )
    written = await tc.write(map_id, op, expected_version)
    return answer(f"updated {feature_id} (map version {written.version})", written)


async def remove_features(
    tc: ToolContext, map_id: MapId, feature_ids: FeatureIds, expected_version: Expected = None
) -> Annotated[CallToolResult, WriteResult]:
    """Remove features by id."""
    op = RemoveFeatures(tuple(check_id("feature", fid) for fid in feature_ids))
    written = await tc.write(map_id, op, expected_version)
    return answer(
        f"removed {len(feature_ids)} features (map version {written.version})",
        written.model_copy(update={"feature_ids": list(feature_ids)}),
    )


async def import_geojson(
    tc: ToolContext,
    map_id: MapId,
    geojson: GeoJson,
    layer: LayerId = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Add every feature of a GeoJSON FeatureCollection. Names become labels, descriptions
    popups; simplestyle properties (stroke, fill, marker-color) become styles."""
    target = check_id("layer", layer or DEFAULT_LAYER)
    op = ImportFeatures(features_from_geojson(geojson, tc.hub.limits, layer=target))
    written = await tc.write(map_id, op, expected_version)
    return answer(f"imported {len(written.feature_ids)} features (map version {written.version})", written)
