"""Tools that read a map without changing it, and the ``map://{map_id}`` resource."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.geojson import to_geojson
from mapsrv.tools.context import ToolContext
from mapsrv.tools.results import MapSummary, answer, summarize
from mapsrv.tools.schema import MAX_LISTED, MapId

__all__ = ["export_geojson", "get_map", "read_map"]


async def get_map(
    tc: ToolContext,
    map_id: MapId,
    max_features: Annotated[
        int, Field(ge=0, le=MAX_LISTED, description="list at most this many features")
    ] = 100,
) -> Annotated[CallToolResult, MapSummary]:
    """What is on a map now: title, camera, layers, features with their ids, the bounding box
    and the version."""
    entry = await tc.entry(map_id)
    summary = summarize(entry.state, tc.links(entry)[0], max_features)
    listed = ", ".join(f"{f.id} {f.type} {f.label!r}" for f in summary.features[:20])
    text = (
        f"map {summary.title or '(untitled)'} v{summary.version}: {summary.feature_count} features"
        f" in {len(summary.layers)} layers; {listed}"
    )
    return answer(text, summary)


async def export_geojson(tc: ToolContext, map_id: MapId) -> CallToolResult:
    """The map's features as a GeoJSON FeatureCollection ([lon, lat] order)."""
    entry = await tc.entry(map_id)
    collection = to_geojson(entry.state)
    return answer(f"{len(collection['features'])} features as GeoJSON", collection)


async def read_map(tc: ToolContext, map_id: str) -> str:
    """The ``map://{map_id}`` resource: the summary of every feature, as JSON text."""
    entry = await tc.entry(map_id)
    return summarize(entry.state, tc.links(entry)[0], tc.hub.limits.max_features).model_dump_json()
