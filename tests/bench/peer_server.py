"""The peer for the tool-call throughput benchmark: the MCP Python SDK's own deployment, an
``MCPServer`` served by ``MCPServer.run("streamable-http")`` (uvicorn on asyncio), with the same
``create_map`` / ``set_view`` tools as mapsrv, keeping maps in a dict.

    python -m tests.bench.peer_server PORT
"""

from __future__ import annotations

import secrets
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

peer = MCPServer(name="peer", log_level="WARNING")
MAPS: dict[str, dict[str, Any]] = {}


class WriteResult(BaseModel):
    map_id: str
    version: int
    feature_ids: list[str] = Field(default_factory=list)


@peer.tool()
async def create_map(title: str = "") -> Annotated[CallToolResult, WriteResult]:
    """Create a map."""
    map_id = secrets.token_urlsafe(16)
    MAPS[map_id] = {"title": title, "version": 0, "view": None}
    result = WriteResult(map_id=map_id, version=0)
    return CallToolResult(
        content=[TextContent(type="text", text="created")], structured_content=result.model_dump()
    )


@peer.tool()
async def set_view(
    map_id: str,
    lat: Annotated[float, Field(ge=-90, le=90)],
    lon: Annotated[float, Field(ge=-180, le=180)],
    zoom: Annotated[float, Field(ge=0, le=22)],
    animate: bool = True,
) -> Annotated[CallToolResult, WriteResult]:
    """Move the camera."""
    state = MAPS[map_id]
    state["view"] = {"center": [lat, lon], "zoom": zoom, "animate": animate}
    state["version"] += 1
    result = WriteResult(map_id=map_id, version=state["version"])
    return CallToolResult(
        content=[TextContent(type="text", text="view set")], structured_content=result.model_dump()
    )


if __name__ == "__main__":
    peer.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
