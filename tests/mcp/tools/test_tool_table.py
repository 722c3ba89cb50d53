"""The tool table and the surface it shows an LLM: bounds read from Limits, every tool annotated,
a lean list (<= 15.5 KB), arguments validated by mapsrv (unknown ones refused with the known ones),
and the names, descriptions and schemas pinned in tool_surface.json.

To change the surface on purpose: ``MAPSRV_WRITE_SURFACE=1 pytest tests/mcp/tools/test_tool_table.py``
rewrites tool_surface.json; review its diff like code."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from mapsrv.core.model import Limits
from mapsrv.http.identity import ApiKeys
from mapsrv.hub import MapHub
from mapsrv.mcp.endpoints import build_mcp
from mapsrv.mcp.tools import TOOLS, ToolContext, schema
from mapsrv.mcp.tools.arguments import Arguments
from mapsrv.mcp.tools.registry import ROUTING_TOOLS, WRITE_TOOLS, ToolRunner, sdk_tool
from mapsrv.routing import ValhallaRouter

SURFACE = Path(__file__).with_name("tool_surface.json")
MAX_LIST_BYTES = 20 * 1_100  # issue 34: at most 1,100 bytes per tool on average (21 tools: 21,755 B)


def test_bounds_in_the_schemas_are_the_limits() -> None:
    limits = Limits()
    props = schema.ITEM_SCHEMA["properties"]
    assert props["label"]["maxLength"] == limits.max_label
    assert props["popup"]["maxLength"] == limits.max_popup
    assert props["radius_m"]["maximum"] == limits.max_radius
    assert Arguments.of(TOOLS[0].function).schema["properties"]["title"]["maxLength"] == limits.max_title
    assert schema.LIMITS == limits


def test_the_table_names_each_tool_once_with_a_title_and_every_hint() -> None:
    names = [spec.name for spec in TOOLS]
    assert len(names) == len(set(names)) == 21 and "create_map" in names
    for spec in TOOLS:
        assert spec.function.__name__ in (spec.name, spec.name + "_file") and spec.title
        assert spec.description and "  " not in spec.description
        hints = spec.annotations
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), spec.name
    reads = {spec.name for spec in TOOLS if spec.annotations.read_only_hint}
    assert reads == {"read", "map_image", "changes", "find_places", "nearest_place", "measure", "list_maps"}
    destructive = {spec.name for spec in TOOLS if spec.annotations.destructive_hint}
    assert destructive == {"edit", "remove", "undo", "delete_map"}


async def surface(mcp: MCPServer) -> dict[str, Any]:
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await mcp.list_tools()]
    templates = [
        t.model_dump(mode="json", by_alias=True, exclude_none=True)
        for t in await mcp.list_resource_templates()
    ]
    return json.loads(json.dumps({"tools": tools, "resource_templates": templates}))


async def test_the_tool_surface_is_the_pinned_one() -> None:
    found = await surface(build_mcp(MapHub(), lambda: "http://x/", ApiKeys([])))
    if os.environ.get("MAPSRV_WRITE_SURFACE"):
        SURFACE.write_text(json.dumps(found, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    assert found == json.loads(SURFACE.read_text())


async def test_the_tool_list_is_lean() -> None:
    tools = await build_mcp(MapHub(), lambda: "http://x/", ApiKeys([])).list_tools()
    listed = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    assert len(json.dumps({"tools": listed}, separators=(",", ":"))) <= MAX_LIST_BYTES
    for tool in listed:
        assert len(tool["description"].encode()) <= 1_100, f"issue 62: {tool['name']}'s description"
        assert "outputSchema" not in tool, "answers are small JSON; their schemas would cost list bytes"
        assert '"title": "' not in json.dumps(tool["inputSchema"]), f"pydantic's titles in {tool['name']}"


def call(name: str, hub: MapHub) -> Any:
    spec = next(spec for spec in TOOLS if spec.name == name)
    return sdk_tool(ToolRunner.of(spec), lambda ctx: ToolContext(hub, "http://x/")).fn


async def test_arguments_are_checked_by_mapsrv_and_errors_are_tool_errors() -> None:
    hub = MapHub()
    created = await call("create_map", hub)(ctx=None, arguments={"title": "t"})
    assert not created.is_error and created.structured_content is not None
    map_id = created.structured_content["map_id"]
    named = await call("draw", hub)(ctx=None, arguments={"map_id": map_id, "items": [], "name": "x"})
    assert named.is_error
    assert named.content[0].text == (
        "invalid: draw has no argument 'name'; use one of: items, map_id, layer, title, geojson, fit,"
        " expected_version, base_version"
    )
    colour = await call("draw", hub)(ctx=None, arguments={"map_id": map_id, "items": [], "colour": "red"})
    assert colour.content[0].text.startswith("invalid: draw has no argument 'colour'; use one of:")
    label = await call("draw", hub)(ctx=None, arguments={"items": [{"at": [1, 2], "name": "x"}]})
    assert label.content[0].text.startswith("invalid: items[0] has no field 'name' (did you mean 'label'?)")
    typed = await call("set_view", hub)(ctx=None, arguments={"map_id": map_id, "zoom": "far"})
    assert typed.content[0].text.startswith("invalid: zoom must be a number, got 'far'")
    missing = await call("read", hub)(ctx=None, arguments={})
    assert missing.content[0].text.startswith("invalid: map_id is required, got none; add it")
    unknown = await call("read", hub)(ctx=None, arguments={"map_id": "nope"})
    assert unknown.is_error and unknown.content[0].text.startswith("not_found: map 'nope' not found")
    quoted = await call("draw", hub)(ctx=None, arguments={"map_id": map_id, "items": '[{"at": [1, 2]}]'})
    assert not quoted.is_error, "lists sent as JSON text are read as the SDK would"
    assert (await hub.get(map_id)).state.version == 2


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_every_schema_refuses_unknown_arguments(spec: Any) -> None:
    assert Arguments.of(spec.function).schema["additionalProperties"] is False


async def test_a_router_adds_the_routing_tools_and_the_list_stays_lean() -> None:
    router = ValhallaRouter("http://127.0.0.1:9")  # listed, never asked
    tools = await build_mcp(MapHub(), lambda: "http://x/", ApiKeys([]), router=router).list_tools()
    await router.aclose()
    listed = {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}
    assert len(listed) == len(TOOLS) + len(ROUTING_TOOLS) == 23
    assert listed["reachable"]["annotations"]["openWorldHint"] is True, "it asks another service"
    assert listed["travel_times"]["annotations"]["readOnlyHint"] is True
    assert "reachable" in WRITE_TOOLS and "travel_times" not in WRITE_TOOLS
    assert listed["draw"]["inputSchema"]["properties"]["items"]["items"]["properties"]["by"]["enum"] == [
        "car",
        "bike",
        "foot",
    ]
    # 23 tools since select and derive (issue 46): still under issue 34's 1,100 bytes a tool on average
    assert len(json.dumps({"tools": list(listed.values())}, separators=(",", ":"))) <= 22 * 1_100
