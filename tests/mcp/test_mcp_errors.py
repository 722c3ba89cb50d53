"""Oversize and malformed MCP calls are answered as JSON-RPC errors that say what is wrong (the
SDK's own answers to them are plain text, which clients show as a bare "error response")."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from mcp import Client, MCPError
from support import start_server

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.mark.parametrize("mode", ["modern", "legacy"])
async def test_an_oversize_tool_call_names_the_limit(nursery: trio.Nursery, mode: str) -> None:
    server = await start_server(nursery, max_body_size=4096)
    kwargs = {"mode": "legacy"} if mode == "legacy" else {}
    async with Client(server.url + "mcp", **kwargs) as agent:  # type: ignore[arg-type]
        created = await agent.call_tool("create_map", {})
        map_id = created.structured_content["map_id"]
        with pytest.raises(MCPError, match="larger than 4096 bytes"):
            await agent.call_tool("set_title", {"map_id": map_id, "title": "x" * 10_000})
        # the session goes on
        assert not (await agent.call_tool("read", {"map_id": map_id})).is_error


async def test_broken_json_rpc_is_answered_in_json_rpc(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_body_size=4096)
    async with httpx.AsyncClient(timeout=5) as http:
        for body in (b'{"jsonrpc": ', b"", b"x" * 5000):
            answer = await http.post(server.url + "mcp", content=body, headers=ACCEPT)
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.json()["error"]["code"] in (-32700, -32602), answer.text
        async with http.stream("GET", server.url + "sse") as stream:
            async for chunk in stream.aiter_bytes():
                if found := re.search(rb"data: (/messages/\S+)", chunk):
                    break
            url = server.url.rstrip("/") + found.group(1).decode()
            broken = await http.post(url, content=b'{"jsonrpc": ', headers=ACCEPT)
            assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700
            large = await http.post(url, content=b"x" * 5000, headers=ACCEPT)
            assert large.status_code == 413
            assert "larger than 4096 bytes" in large.json()["error"]["message"]
