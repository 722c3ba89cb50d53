"""N MCP ``draw`` calls of one marker each on one map, for counting a server's instructions per
tool call under callgrind (tests/bench/tool_call_instructions.sh)."""

from __future__ import annotations

import json
import sys

import trio
from mcp import Client


async def draw_calls(url: str, calls: int) -> None:
    async with Client(url) as client:
        made = await client.call_tool("create_map", {"title": "instructions"})
        map_id = (made.structured_content or json.loads(made.content[0].text))["map_id"]  # type: ignore[union-attr]
        for i in range(calls):
            item = {"type": "marker", "at": [1.0, 2.0 + i * 1e-4], "label": f"m{i}"}
            result = await client.call_tool("draw", {"map_id": map_id, "items": [item]})
            assert not result.is_error, result.content


if __name__ == "__main__":
    trio.run(draw_calls, sys.argv[1], int(sys.argv[2]))
