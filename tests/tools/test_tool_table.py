"""The tool table and the surface it shows an LLM: bounds read from Limits, and the names,
titles, descriptions and schemas of the 18 tools exactly as before the tools became a package."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from mcp.server.mcpserver import MCPServer

from mapsrv.access import ApiKeys
from mapsrv.core.model import Limits
from mapsrv.hub import MapHub
from mapsrv.mcp_server import build_mcp
from mapsrv.tools import TOOLS, ToolContext, register_tools, schema
from mapsrv.tools.drawing import add_marker
from mapsrv.tools.registry import sdk_tool

SURFACE = Path(__file__).with_name("tool_surface.json")


def bound(annotated: Any, name: str) -> Any:
    """The value of the one ``name`` constraint (max_length, le, ...) on an Annotated type."""
    found = [
        getattr(m, name)
        for field in get_args(annotated)[1:]
        for m in getattr(field, "metadata", [])
        if hasattr(m, name)
    ]
    assert len(found) == 1, (annotated, name, found)
    return found[0]


@pytest.mark.parametrize(
    ("annotated", "name", "limit"),
    [
        (schema.Title, "max_length", "max_title"),
        (schema.Label, "max_length", "max_label"),
        (schema.Popup, "max_length", "max_popup"),
        (schema.LayerName, "max_length", "max_label"),
        (schema.Zoom, "le", "max_zoom"),
        (schema.Radius, "le", "max_radius"),
    ],
)
def test_argument_bounds_are_the_limits(annotated: Any, name: str, limit: str) -> None:
    assert bound(annotated, name) == getattr(Limits(), limit)


def test_limits_of_the_schema_are_the_defaults() -> None:
    assert schema.LIMITS == Limits()


def test_the_table_names_each_tool_once_after_its_function() -> None:
    names = [spec.name for spec in TOOLS]
    assert len(names) == len(set(names)) == 18
    assert all(spec.function.__name__ == spec.name and spec.title for spec in TOOLS)
    assert all(spec.description and "  " not in spec.description for spec in TOOLS)


async def surface(mcp: MCPServer) -> dict[str, Any]:
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await mcp.list_tools()]
    templates = [
        t.model_dump(mode="json", by_alias=True, exclude_none=True)
        for t in await mcp.list_resource_templates()
    ]
    return json.loads(json.dumps({"tools": tools, "resource_templates": templates}))


async def test_the_tool_surface_is_unchanged() -> None:
    # tool_surface.json was captured from the tools before they became a package (descriptions
    # with their docstring indentation collapsed); issue 13 changes it on purpose.
    expected = json.loads(SURFACE.read_text())
    assert await surface(build_mcp(MapHub(), lambda: "http://x/", ApiKeys([]))) == expected


async def test_register_tools_adds_every_tool_of_the_table() -> None:
    mcp = MCPServer(name="t")
    register_tools(mcp, MapHub(), lambda: "http://x/", ApiKeys([]))
    listed = await mcp.list_tools()
    assert [t.name for t in listed] == [spec.name for spec in TOOLS]
    assert [t.title for t in listed] == [spec.title for spec in TOOLS]


async def test_the_sdk_sees_the_arguments_and_gets_mapsrv_errors_as_tool_errors() -> None:
    hub = MapHub()
    as_sdk = {spec.name: sdk_tool(spec.function, lambda ctx: ToolContext(hub, "http://x/")) for spec in TOOLS}
    parameters = list(inspect.signature(as_sdk["add_marker"]).parameters)
    assert parameters == ["ctx", *list(inspect.signature(add_marker).parameters)[1:]]
    created = await as_sdk["create_map"](ctx=None, title="t")
    assert not created.is_error and created.structured_content is not None
    map_id = created.structured_content["map_id"]
    drawn = await as_sdk["add_marker"](ctx=None, map_id=map_id, lat=1, lon=2, color="#12")
    assert drawn.is_error and drawn.content[0].text.startswith("invalid: style color must be #rgb")
    unknown = await as_sdk["get_map"](ctx=None, map_id="nope")
    assert unknown.is_error and unknown.content[0].text.startswith("not_found: map 'nope' not found")
    assert (await hub.get(map_id)).state.version == 0
