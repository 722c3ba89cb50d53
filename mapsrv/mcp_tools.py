"""The map tools an agent calls. They know nothing of transports: the same functions serve
Streamable HTTP, legacy HTTP+SSE and stdio.

Every tool answers with a short text for the model and structured content for programs. Bad
arguments come back as tool errors (``isError``) whose text says how to fix the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Annotated, Any, ParamSpec

from mcp import MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mapsrv.access import ApiKeys
from mapsrv.core import feature_ids
from mapsrv.core.geojson import to_geojson
from mapsrv.core.ops import Op
from mapsrv.core.parse import parse_op
from mapsrv.errors import InvalidInput, MapsrvError, NotFound
from mapsrv.hub import MapEntry, MapHub
from mapsrv.mcp_schema import (
    Color,
    Expected,
    FeatureId,
    Label,
    Lat,
    LayerId,
    Lon,
    MapId,
    MapRef,
    MapSummary,
    Point,
    Popup,
    WriteResult,
    summarize,
)

__all__ = [
    "INSTRUCTIONS",
    "register_tools",
]

P = ParamSpec("P")

INSTRUCTIONS = """\
mapsrv shows a live map to the user in their browser; everything you draw appears there at once.
Start with create_map (it returns a url: give it to the user to open) or, when the user pastes a
map code from their map page, use that code as map_id. Coordinates are latitude then longitude in
degrees (lat -90..90, lon -180..180). Add features with add_marker, add_line, add_polygon,
add_circle and add_rectangle; each returns the feature id to update or remove it later. Call
fit_bounds after drawing so the user sees everything. get_map shows what is on the map now.
Pass expected_version (from any result) to make a write fail instead of overwriting changes
made since you last looked."""


def _error(exc: MapsrvError) -> CallToolResult:
    return CallToolResult(
        is_error=True, content=[TextContent(type="text", text=f"{exc.code}: {exc.message}")]
    )


def _ok(text: str, model: BaseModel) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=model.model_dump(mode="json")
    )


def _tool_errors(fn: Callable[P, Awaitable[CallToolResult]]) -> Callable[P, Awaitable[CallToolResult]]:
    """mapsrv's own errors become tool errors with their message, never JSON-RPC failures."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> CallToolResult:
        try:
            return await fn(*args, **kwargs)
        except MapsrvError as exc:
            return _error(exc)

    return wrapper


def _style(**items: Any) -> dict[str, Any] | None:
    style = {k: v for k, v in items.items() if v is not None}
    return style or None


def register_tools(mcp: MCPServer, hub: MapHub, base_url: Callable[[], str], keys: ApiKeys) -> None:
    """Add mapsrv's tools and the ``map://{map_id}`` resource to ``mcp``."""

    def principal(ctx: Context | None) -> str | None:
        return keys.principal(ctx.headers if ctx is not None else None)

    async def entry_for(map_id: str, ctx: Context | None) -> MapEntry:
        try:
            entry = await hub.get(map_id) if isinstance(map_id, str) and len(map_id) <= 64 else None
        except NotFound:
            entry = None
        if entry is None or (entry.principal is not None and entry.principal != principal(ctx)):
            raise NotFound(f"map {map_id[:64]!r} not found: check the map_id, or create_map a new one")
        return entry

    def links(entry: MapEntry) -> tuple[str, str]:
        base = base_url().rstrip("/")
        return f"{base}/m/{entry.id}", f"{base}/v/{entry.view_key}"

    async def write(
        ctx: Context | None, map_id: str, ops: list[dict[str, Any]], expected: int | None
    ) -> tuple[MapEntry, int, list[str]]:
        entry = await entry_for(map_id, ctx)
        parsed: list[Op] = []
        for raw in ops:
            parsed.append(parse_op(raw, hub.limits))
        events = await hub.apply(entry.id, parsed, expected_version=expected)
        ids = feature_ids(events)
        return entry, events[-1].version, ids

    async def add(
        ctx: Context, map_id: str, kind: str, raw: dict[str, Any], expected: int | None
    ) -> CallToolResult:
        op = {"op": "add_feature", "type": kind, **{k: v for k, v in raw.items() if v is not None}}
        entry, version, ids = await write(ctx, map_id, [op], expected)
        return _ok(
            f"added {kind} {ids[0]} (map version {version})",
            WriteResult(map_id=entry.id, version=version, feature_ids=ids),
        )

    @mcp.tool(title="Create a map")
    @_tool_errors
    async def create_map(
        ctx: Context,
        title: Annotated[str, Field(max_length=200, description="title shown above the map")] = "",
    ) -> Annotated[CallToolResult, MapRef]:
        """Create a new, empty map and get its map_id and the url to give the user. The map becomes
        the user's own when they open the url; it shows every change live."""
        entry = await hub.create_map(principal=principal(ctx), title=title)
        url, view_url = links(entry)
        return _ok(
            f"created map {entry.id}; ask the user to open {url}",
            MapRef(map_id=entry.id, url=url, view_url=view_url, title=title, version=entry.state.version),
        )

    @mcp.tool(title="Read a map")
    @_tool_errors
    async def get_map(
        ctx: Context,
        map_id: MapId,
        max_features: Annotated[
            int, Field(ge=0, le=1000, description="list at most this many features")
        ] = 100,
    ) -> Annotated[CallToolResult, MapSummary]:
        """What is on a map now: title, camera, layers, features with their ids, the bounding box
        and the version."""
        entry = await entry_for(map_id, ctx)
        summary = summarize(entry.state, links(entry)[0], max_features)
        text = (
            f"map {summary.title or '(untitled)'} v{summary.version}: {summary.feature_count} features"
            f" in {len(summary.layers)} layers; "
            + ", ".join(f"{f.id} {f.type} {f.label!r}" for f in summary.features[:20])
        )
        return _ok(text, summary)

    @mcp.tool(title="Set the title")
    @_tool_errors
    async def set_title(
        ctx: Context,
        map_id: MapId,
        title: Annotated[str, Field(max_length=200)],
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Set the title shown above the map."""
        entry, version, _ = await write(ctx, map_id, [{"op": "set_title", "title": title}], expected_version)
        return _ok(f"title set (map version {version})", WriteResult(map_id=entry.id, version=version))

    @mcp.tool(title="Move the camera")
    @_tool_errors
    async def set_view(
        ctx: Context,
        map_id: MapId,
        lat: Lat,
        lon: Lon,
        zoom: Annotated[
            float, Field(ge=0, le=22, description="0 shows the world, 5 a country, 12 a city, 17 a street")
        ],
        animate: Annotated[bool, Field(description="fly there smoothly")] = True,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Center the user's map on a point at a zoom level."""
        op = {"op": "set_view", "center": [lat, lon], "zoom": zoom, "animate": animate}
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        return _ok(f"view set (map version {version})", WriteResult(map_id=entry.id, version=version))

    @mcp.tool(title="Fit the camera")
    @_tool_errors
    async def fit_bounds(
        ctx: Context,
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
        op: dict[str, Any] = {"op": "fit_bounds", "animate": animate}
        box = [south, west, north, east]
        if any(v is not None for v in box):
            if any(v is None for v in box):
                raise InvalidInput("give all of south, west, north and east, or none of them")
            op["bounds"] = [[south, west], [north, east]]
        elif feature_ids:
            op["feature_ids"] = feature_ids
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        return _ok(f"view fitted (map version {version})", WriteResult(map_id=entry.id, version=version))

    @mcp.tool(title="Add a marker")
    @_tool_errors
    async def add_marker(
        ctx: Context,
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
        raw = {
            "coords": [lat, lon],
            "label": label,
            "popup": popup,
            "style": _style(color=color),
            "id": id,
            "layer": layer,
        }
        return await add(ctx, map_id, "marker", raw, expected_version)

    @mcp.tool(title="Draw a line")
    @_tool_errors
    async def add_line(
        ctx: Context,
        map_id: MapId,
        points: Annotated[list[Point], Field(min_length=2, description="[[lat, lon], ...] in order")],
        label: Label = "",
        popup: Popup = "",
        color: Color = None,
        weight: Annotated[float | None, Field(ge=0, le=20, description="line width in pixels")] = None,
        dash: Annotated[str | None, Field(description="dash pattern like '6 4'; omit for solid")] = None,
        id: FeatureId = None,
        layer: LayerId = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Draw a line through points (a route, a track, a border)."""
        raw = {
            "coords": points,
            "label": label,
            "popup": popup,
            "id": id,
            "layer": layer,
            "style": _style(color=color, weight=weight, dash=dash),
        }
        return await add(ctx, map_id, "polyline", raw, expected_version)

    @mcp.tool(title="Draw a polygon")
    @_tool_errors
    async def add_polygon(
        ctx: Context,
        map_id: MapId,
        points: Annotated[
            list[Point], Field(min_length=3, description="the outline [[lat, lon], ...]; not closed")
        ],
        label: Label = "",
        popup: Popup = "",
        color: Color = None,
        fill_color: Color = None,
        fill_opacity: Annotated[float | None, Field(ge=0, le=1)] = None,
        id: FeatureId = None,
        layer: LayerId = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Draw a filled area given by its outline."""
        raw = {
            "coords": points,
            "label": label,
            "popup": popup,
            "id": id,
            "layer": layer,
            "style": _style(color=color, fill_color=fill_color, fill_opacity=fill_opacity),
        }
        return await add(ctx, map_id, "polygon", raw, expected_version)

    @mcp.tool(title="Draw a circle")
    @_tool_errors
    async def add_circle(
        ctx: Context,
        map_id: MapId,
        lat: Lat,
        lon: Lon,
        radius_m: Annotated[float, Field(gt=0, le=20_000_000, description="radius in metres")],
        label: Label = "",
        popup: Popup = "",
        color: Color = None,
        fill_opacity: Annotated[float | None, Field(ge=0, le=1)] = None,
        id: FeatureId = None,
        layer: LayerId = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Draw a circle of a real-world radius around a point (an area of reach, a search zone)."""
        raw = {
            "coords": [lat, lon],
            "radius": radius_m,
            "label": label,
            "popup": popup,
            "id": id,
            "layer": layer,
            "style": _style(color=color, fill_opacity=fill_opacity),
        }
        return await add(ctx, map_id, "circle", raw, expected_version)

    @mcp.tool(title="Draw a rectangle")
    @_tool_errors
    async def add_rectangle(
        ctx: Context,
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
        raw = {
            "coords": [[south, west], [north, east]],
            "label": label,
            "popup": popup,
            "id": id,
            "layer": layer,
            "style": _style(color=color),
        }
        return await add(ctx, map_id, "rectangle", raw, expected_version)

    @mcp.tool(title="Change a feature")
    @_tool_errors
    async def update_feature(
        ctx: Context,
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
        radius_m: Annotated[float | None, Field(gt=0, le=20_000_000)] = None,
        layer: Annotated[str | None, Field(description="move the feature to this existing layer")] = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Change a feature's text, colour, position or layer; fields left out stay as they are.
        Use lat/lon to move a marker or circle, points for a line or polygon."""
        op: dict[str, Any] = {
            "op": "update_feature",
            "id": feature_id,
            "label": label,
            "popup": popup,
            "radius": radius_m,
            "layer": layer,
            "style": _style(color=color),
        }
        if (lat is None) != (lon is None):
            raise InvalidInput("give both lat and lon to move a feature")
        if lat is not None:
            op["coords"] = [lat, lon]
        elif points is not None:
            op["coords"] = points
        op = {k: v for k, v in op.items() if v is not None}
        entry, version, ids = await write(ctx, map_id, [op], expected_version)
        return _ok(
            f"updated {feature_id} (map version {version})",
            WriteResult(map_id=entry.id, version=version, feature_ids=ids),
        )

    @mcp.tool(title="Remove features")
    @_tool_errors
    async def remove_features(
        ctx: Context,
        map_id: MapId,
        feature_ids: Annotated[list[str], Field(min_length=1, description="ids of the features to remove")],
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Remove features by id."""
        op = {"op": "remove_features", "ids": feature_ids}
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        return _ok(
            f"removed {len(feature_ids)} features (map version {version})",
            WriteResult(map_id=entry.id, version=version, feature_ids=feature_ids),
        )

    @mcp.tool(title="Add a layer")
    @_tool_errors
    async def add_layer(
        ctx: Context,
        map_id: MapId,
        layer_id: Annotated[str, Field(description="id for the layer (letters, digits, _.:-)")],
        name: Annotated[str, Field(max_length=200, description="name shown to the user")] = "",
        visible: bool = True,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Add a named layer: a group of features that can be shown, hidden or removed together."""
        op = {"op": "add_layer", "id": layer_id, "name": name or layer_id, "visible": visible}
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        return _ok(
            f"added layer {layer_id} (map version {version})", WriteResult(map_id=entry.id, version=version)
        )

    @mcp.tool(title="Show or hide a layer")
    @_tool_errors
    async def set_layer_visibility(
        ctx: Context, map_id: MapId, layer_id: str, visible: bool, expected_version: Expected = None
    ) -> Annotated[CallToolResult, WriteResult]:
        """Show (visible=true) or hide (visible=false) every feature of a layer."""
        op = {"op": "show_layer" if visible else "hide_layer", "id": layer_id}
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        state = "shown" if visible else "hidden"
        return _ok(
            f"layer {layer_id} {state} (map version {version})", WriteResult(map_id=entry.id, version=version)
        )

    @mcp.tool(title="Remove a layer")
    @_tool_errors
    async def remove_layer(
        ctx: Context, map_id: MapId, layer_id: str, expected_version: Expected = None
    ) -> Annotated[CallToolResult, WriteResult]:
        """Remove a layer and every feature on it."""
        entry, version, _ = await write(
            ctx, map_id, [{"op": "remove_layer", "id": layer_id}], expected_version
        )
        return _ok(
            f"removed layer {layer_id} (map version {version})", WriteResult(map_id=entry.id, version=version)
        )

    @mcp.tool(title="Clear the map")
    @_tool_errors
    async def clear_map(
        ctx: Context,
        map_id: MapId,
        layer_id: Annotated[str | None, Field(description="clear only this layer")] = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Remove every feature (of one layer, or of the whole map). Layers and the view stay."""
        op = {"op": "clear", "layer": layer_id}
        entry, version, _ = await write(ctx, map_id, [op], expected_version)
        return _ok(f"cleared (map version {version})", WriteResult(map_id=entry.id, version=version))

    @mcp.tool(title="Import GeoJSON")
    @_tool_errors
    async def import_geojson(
        ctx: Context,
        map_id: MapId,
        geojson: Annotated[
            dict[str, Any], Field(description="a GeoJSON FeatureCollection or Feature ([lon, lat] order)")
        ],
        layer: LayerId = None,
        expected_version: Expected = None,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Add every feature of a GeoJSON FeatureCollection. Names become labels, descriptions
        popups; simplestyle properties (stroke, fill, marker-color) become styles."""
        op = {"op": "import_geojson", "geojson": geojson, "layer": layer}
        entry, version, ids = await write(
            ctx, map_id, [{k: v for k, v in op.items() if v is not None}], expected_version
        )
        return _ok(
            f"imported {len(ids)} features (map version {version})",
            WriteResult(map_id=entry.id, version=version, feature_ids=ids),
        )

    @mcp.tool(title="Export GeoJSON")
    @_tool_errors
    async def export_geojson(ctx: Context, map_id: MapId) -> CallToolResult:
        """The map's features as a GeoJSON FeatureCollection ([lon, lat] order)."""
        entry = await entry_for(map_id, ctx)
        collection = to_geojson(entry.state)
        return CallToolResult(
            content=[TextContent(type="text", text=f"{len(collection['features'])} features as GeoJSON")],
            structured_content=collection,
        )

    @mcp.resource(
        "map://{map_id}",
        mime_type="application/json",
        title="A live map",
        description="A map's full state as JSON",
    )
    async def map_resource(map_id: str, ctx: Context) -> str:
        try:
            entry = await entry_for(map_id, ctx)
        except MapsrvError as exc:  # a clear JSON-RPC error, and nothing logged with the id in it
            raise MCPError(exc.jsonrpc_code, exc.message) from None
        return summarize(entry.state, links(entry)[0], hub.limits.max_features).model_dump_json()
