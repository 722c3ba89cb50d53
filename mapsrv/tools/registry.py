"""The one table of tools, and how it is registered on an MCPServer with the SDK's public API
(``MCPServer.add_tool`` and ``MCPServer.resource``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp import MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult

from mapsrv.access import ApiKeys
from mapsrv.errors import MapsrvError
from mapsrv.hub import MapHub
from mapsrv.tools.context import ToolContext
from mapsrv.tools.drawing import (
    add_circle,
    add_line,
    add_marker,
    add_polygon,
    add_rectangle,
    import_geojson,
    remove_features,
    update_feature,
)
from mapsrv.tools.layers import add_layer, clear_map, remove_layer, set_layer_visibility
from mapsrv.tools.maps import create_map, fit_bounds, set_title, set_view
from mapsrv.tools.reading import export_geojson, get_map, read_map
from mapsrv.tools.results import tool_error

__all__ = ["INSTRUCTIONS", "TOOLS", "ToolSpec", "register_tools", "sdk_tool"]

INSTRUCTIONS = """\
mapsrv shows a live map to the user in their browser; everything you draw appears there at once.
Start with create_map (it returns a url: give it to the user to open) or, when the user pastes a
map code from their map page, use that code as map_id. Coordinates are latitude then longitude in
degrees (lat -90..90, lon -180..180). Add features with add_marker, add_line, add_polygon,
add_circle and add_rectangle; each returns the feature id to update or remove it later. Call
fit_bounds after drawing so the user sees everything. get_map shows what is on the map now.
Pass expected_version (from any result) to make a write fail instead of overwriting changes
made since you last looked."""

ToolFunction = Callable[..., Awaitable[CallToolResult]]


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its function (named as the tool, documented by its docstring) and its title."""

    function: ToolFunction
    title: str

    @property
    def name(self) -> str:
        return self.function.__name__

    @property
    def description(self) -> str:
        return " ".join((self.function.__doc__ or "").split())


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(create_map, "Create a map"),
    ToolSpec(get_map, "Read a map"),
    ToolSpec(set_title, "Set the title"),
    ToolSpec(set_view, "Move the camera"),
    ToolSpec(fit_bounds, "Fit the camera"),
    ToolSpec(add_marker, "Add a marker"),
    ToolSpec(add_line, "Draw a line"),
    ToolSpec(add_polygon, "Draw a polygon"),
    ToolSpec(add_circle, "Draw a circle"),
    ToolSpec(add_rectangle, "Draw a rectangle"),
    ToolSpec(update_feature, "Change a feature"),
    ToolSpec(remove_features, "Remove features"),
    ToolSpec(add_layer, "Add a layer"),
    ToolSpec(set_layer_visibility, "Show or hide a layer"),
    ToolSpec(remove_layer, "Remove a layer"),
    ToolSpec(clear_map, "Clear the map"),
    ToolSpec(import_geojson, "Import GeoJSON"),
    ToolSpec(export_geojson, "Export GeoJSON"),
)


def sdk_tool(function: ToolFunction, context_of: Callable[[Context], ToolContext]) -> ToolFunction:
    """``function(tc, **arguments)`` as the SDK calls a tool: ``(ctx, **arguments)``, advertising
    the same arguments (the SDK derives the input and output schemas from this signature), with
    mapsrv's errors answered as tool errors."""
    signature = inspect.signature(function, eval_str=True)
    _, *arguments = signature.parameters.values()

    async def call(ctx: Context, **kwargs: Any) -> CallToolResult:
        try:
            return await function(context_of(ctx), **kwargs)
        except MapsrvError as exc:
            return tool_error(exc)

    ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)
    call.__name__ = call.__qualname__ = function.__name__
    call.__doc__ = function.__doc__
    call.__annotations__ = {
        "ctx": Context,
        **{p.name: p.annotation for p in arguments},
        "return": signature.return_annotation,
    }
    call.__signature__ = signature.replace(parameters=[ctx, *arguments])  # type: ignore[attr-defined]
    return call


def register_tools(mcp: MCPServer, hub: MapHub, base_url: Callable[[], str], keys: ApiKeys) -> None:
    """Add every tool of ``TOOLS`` and the ``map://{map_id}`` resource to ``mcp``."""

    def context_of(ctx: Context) -> ToolContext:
        return ToolContext(hub, base_url(), keys.principal(ctx.headers))

    for spec in TOOLS:
        mcp.add_tool(
            sdk_tool(spec.function, context_of),
            name=spec.name,
            title=spec.title,
            description=spec.description,
        )

    @mcp.resource(
        "map://{map_id}",
        mime_type="application/json",
        title="A live map",
        description="A map's full state as JSON",
    )
    async def map_resource(map_id: str, ctx: Context) -> str:
        try:
            return await read_map(context_of(ctx), map_id)
        except MapsrvError as exc:  # a clear JSON-RPC error, and nothing logged with the id in it
            raise MCPError(exc.jsonrpc_code, exc.message) from None
