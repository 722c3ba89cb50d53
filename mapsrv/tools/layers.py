"""Tools for layers: named groups of features shown, hidden, cleared or removed together."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.model import check_id, check_text
from mapsrv.core.ops import AddLayer, Clear, RemoveLayer, SetLayerVisibility
from mapsrv.tools.context import ToolContext
from mapsrv.tools.results import WriteResult, answer
from mapsrv.tools.schema import Expected, LayerName, MapId

__all__ = ["add_layer", "clear_map", "remove_layer", "set_layer_visibility"]


async def add_layer(
    tc: ToolContext,
    map_id: MapId,
    layer_id: Annotated[str, Field(description="id for the layer (letters, digits, _.:-)")],
    name: LayerName = "",
    visible: bool = True,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Add a named layer: a group of features that can be shown, hidden or removed together."""
    lid = check_id("layer", layer_id)
    op = AddLayer(lid, check_text("layer name", name or lid, tc.hub.limits.max_label), visible)
    written = await tc.write(map_id, op, expected_version)
    return answer(f"added layer {lid} (map version {written.version})", written)


async def set_layer_visibility(
    tc: ToolContext, map_id: MapId, layer_id: str, visible: bool, expected_version: Expected = None
) -> Annotated[CallToolResult, WriteResult]:
    """Show (visible=true) or hide (visible=false) every feature of a layer."""
    op = SetLayerVisibility(check_id("layer", layer_id), visible)
    written = await tc.write(map_id, op, expected_version)
    shown = "shown" if visible else "hidden"
    return answer(f"layer {layer_id} {shown} (map version {written.version})", written)


async def remove_layer(
    tc: ToolContext, map_id: MapId, layer_id: str, expected_version: Expected = None
) -> Annotated[CallToolResult, WriteResult]:
    """Remove a layer and every feature on it."""
    written = await tc.write(map_id, RemoveLayer(check_id("layer", layer_id)), expected_version)
    return answer(f"removed layer {layer_id} (map version {written.version})", written)


async def clear_map(
    tc: ToolContext,
    map_id: MapId,
    layer_id: Annotated[str | None, Field(description="clear only this layer")] = None,
    expected_version: Expected = None,
) -> Annotated[CallToolResult, WriteResult]:
    """Remove every feature (of one layer, or of the whole map). Layers and the view stay."""
    op = Clear(None if layer_id is None else check_id("layer", layer_id))
    written = await tc.write(map_id, op, expected_version)
    return answer(f"cleared (map version {written.version})", written)
