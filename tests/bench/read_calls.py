"""N 2026-07-28 ``read`` calls of a map of 3 markers, each a POST standing alone on one keep-alive
connection (as ``tool_calls_per_core`` sends them, with wrk), for counting a server's
instructions per stateless tool call under callgrind (tests/bench/tool_call_instructions.sh)."""

from __future__ import annotations

import sys

import httpx
import trio
from mcp import Client

MODERN = "2026-07-28"
MARKERS = [{"at": [38.72, -9.14], "label": "Lisbon"}, {"at": [40.4, -3.7], "label": "Madrid"}]
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "instructions", "version": "1"},
}
HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
    "mcp-name": "read",
}


async def read_calls(url: str, calls: int) -> None:
    async with Client(url) as client:
        drawn = await client.call_tool("draw", {"title": "instructions", "items": MARKERS})
        assert not drawn.is_error, drawn.content
        map_id = drawn.structured_content["map_id"]  # type: ignore[index]
    async with httpx.AsyncClient(timeout=60) as http:
        for i in range(calls):
            params = {"name": "read", "arguments": {"map_id": map_id}, "_meta": META}
            body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params}
            answer = await http.post(url, json=body, headers=HEADERS)
            assert answer.status_code == 200 and "Madrid" in answer.text, answer.text


if __name__ == "__main__":
    trio.run(read_calls, sys.argv[1], int(sys.argv[2]))
