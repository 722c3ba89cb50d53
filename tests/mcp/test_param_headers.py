"""The SDK's ``Mcp-Param-*`` header check on a 2026-07-28 ``tools/call`` is made for every schema
that annotates a property with ``x-mcp-header``, and skipped only where it has nothing to compare
(``mapsrv.mcp.param_headers``): through a real server and the SDK's own check, and the lookup alone."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import trio
from mcp_types import HEADER_MISMATCH
from pydantic import Field
from support import start_server
from support.mcp import MCP_ACCEPT

from mapsrv.mcp.param_headers import annotated_only

MODERN = {**MCP_ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call"}
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments, "_meta": ENVELOPE}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}


async def test_a_header_that_disagrees_with_an_annotated_argument_is_refused(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)

    async def region_of(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
        return f"in {region}"

    server.mcp.mcp.add_tool(region_of, name="region_of")
    url, call = server.url + "mcp", tool_call("region_of", {"region": "eu"})
    async with httpx.AsyncClient(timeout=10) as http:
        agreed = await http.post(
            url, json=call, headers={**MODERN, "mcp-name": "region_of", "mcp-param-region": "eu"}
        )
        assert agreed.status_code == 200, agreed.text
        assert "in eu" in agreed.text
        headers = {**MODERN, "mcp-name": "region_of", "mcp-param-region": "us"}
        refused = await http.post(url, json=call, headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == HEADER_MISMATCH
        assert "Mcp-Param-Region" in refused.json()["error"]["message"]


async def test_mapsrvs_own_tools_have_nothing_for_a_param_header_to_disagree_with(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    url = server.url + "mcp"
    async with httpx.AsyncClient(timeout=10) as http:
        made = await http.post(
            url,
            json=tool_call("create_map", {"title": "t"}),
            headers={**MODERN, "mcp-name": "create_map", "mcp-param-title": "not the title"},
        )
        assert made.status_code == 200, made.text
        assert made.json()["result"]["isError"] is False


def test_the_lookup_answers_none_only_for_a_schema_without_an_annotation() -> None:
    plain: dict[str, Any] = {"type": "object", "properties": {"map_id": {"type": "string"}}}
    nested = {
        "type": "object",
        "properties": {
            "where": {"type": "object", "properties": {"r": {"type": "string", "x-mcp-header": "R"}}}
        },
    }
    schemas: dict[str, dict[str, Any]] = {"plain": plain, "nested": nested}
    lookup = annotated_only(schemas.get)
    assert lookup is not None
    assert lookup("plain") is None
    assert lookup("nested") is nested
    assert lookup("missing") is None
    # A tool registered again under its name is looked at again, not remembered.
    schemas["plain"] = {"type": "object", "properties": {"id": {"type": "string", "x-mcp-header": "Id"}}}
    assert lookup("plain") is schemas["plain"]
    assert annotated_only(None) is None
