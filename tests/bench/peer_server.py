"""The peers for the tool-call throughput benchmark: the MCP Python SDK's ``MCPServer`` with the
same ``create_map`` / ``set_view`` tools as mapsrv, keeping maps in a dict, served either as the
SDK deploys it (``MCPServer.run("streamable-http")``: uvicorn on asyncio) or by hypercorn's trio
worker, the HTTP stack mapsrv runs on (which tells the stack's share from mapsrv's own).

    python -m tests.bench.peer_server PORT            # uvicorn (the SDK's default deployment)
    python -m tests.bench.peer_server PORT hypercorn  # hypercorn + Trio
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


def serve_on_hypercorn(port: int) -> None:
    import hypercorn.config
    import hypercorn.trio
    import trio

    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    trio.run(hypercorn.trio.serve, peer.streamable_http_app(host="127.0.0.1"), config)


if __name__ == "__main__":
    if sys.argv[2:] == ["hypercorn"]:
        serve_on_hypercorn(int(sys.argv[1]))
    else:
        peer.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
