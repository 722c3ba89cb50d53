"""Tools for the map as a whole: make one, name it, move its camera."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.model import check_bounds, check_id, check_latlon, check_text, check_zoom
from mapsrv.core.ops import FitBounds, SetTitle, SetView
from mapsrv.errors import InvalidInput
from mapsrv.tools.context import ToolContext
from mapsrv.tools.results import MapRef, WriteResult, answer
from mapsrv.tools.schema import Animate, Expected, Lat, Lon, MapId, Title, Zoom

__all__ = ["create_map", "fit_bounds", "set_title", "set_view"]


async def create_map(
    tc: ToolContext,
    title: Annotated[Title, Field(description="title shown above the map")] = "",
) -> Annotated[CallToolResult, MapRef]:
    """Create a new, empty map and get its map_id and the url to give the user. The map becomes
    the user's own when they open the url; it shows every change live."""
    title = check_text("title", title, tc.hub.limits.max_title)
    entry = await tc.hub.create_map(principal=tc.principal, title=title)
    url, view_url = tc.links(entry)
    return answer(
        f"created map {entry.id}; ask the user to open {url}",
        MapRef(map_id=entry.id, url=url, view_url=view_url, title=title, version=entry.state.version),
    )


async def set_title(
    tc: ToolContext, map_id: MapId, title: Title, expected_version: Expected = None
) -> Annotated[CallToolResult, WriteResult]:
    """Set the title shown above the map."""
    op = SetTitle(check_text("title", title, tc.hub.limits.max_title))
    written = await tc.write(map_id, op, expected_version)
    return answer(f"title set (map version {written.version})", written)


async def set_view(
    tc: ToolContext,
    map_id: MapId,
    lat: Lat,
    lon: Lon,
    zoom: Zoom,
    animate: Animate = True,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Center the user's map on a point at a zoom level."""
    op = SetView(check_latlon("center", (lat, lon)), check_zoom(zoom, tc.hub.limits), animate)
    written = await tc.write(map_id, op, expected_version)
    return answer(f"view set (map version {written.version})", written)


async def fit_bounds(
    tc: ToolContext,
    map_id: MapId,
    feature_ids: Annotated[list[str] | None, Field(description="fit these features")] = None,
    south: Lat | None = None,
    west: Lon | None = None,
    north: Lat | None = None,
    east: Lon | None = None,
    animate: bool = True,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Zoom the map to show a box (south, west, north, east), or the given features, or with
    no arguments every feature on the map."""
    box = (south, west, north, east)
    if any(v is not None for v in box):
        if any(v is None for v in box):
            raise InvalidInput("give all of south, west, north and east, or none of them")
        op = FitBounds(bounds=check_bounds("bounds", ((south, west), (north, east))), animate=animate)
    else:
        ids = tuple(check_id("feature", fid) for fid in feature_ids or ())
        op = FitBounds(feature_ids=ids, animate=animate)
    written = await tc.write(map_id, op, expected_version)
    return answer(f"view fitted (map version {written.version})", written)
