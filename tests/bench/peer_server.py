"""The peers for the tool-call throughput benchmarks: the MCP Python SDK's ``MCPServer`` with the
same ``create_map`` / ``set_view`` / ``draw`` (markers) / ``read`` tools as mapsrv, keeping maps in
a dict, served either as the SDK deploys it (``MCPServer.run("streamable-http")``: uvicorn on
asyncio) or by hypercorn's trio worker, the HTTP stack mapsrv runs on (which tells the stack's
share from mapsrv's own).

    python -m tests.bench.peer_server PORT            # uvicorn (the SDK's default deployment)
    python -m tests.bench.peer_server PORT hypercorn  # hypercorn + Trio
"""

from __future__ import annotations

import json
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


class Marker(BaseModel):
    at: tuple[float, float]
    label: str = ""


@peer.tool()
async def draw(items: list[Marker], title: str = "") -> Annotated[CallToolResult, WriteResult]:
    """Draw markers on a new map."""
    map_id = secrets.token_urlsafe(16)
    features = [{"id": f"f{i + 1}", "type": "marker", **item.model_dump()} for i, item in enumerate(items)]
    MAPS[map_id] = {"title": title, "version": len(items), "view": None, "features": features}
    result = WriteResult(map_id=map_id, version=len(items), feature_ids=[f["id"] for f in features])
    return CallToolResult(
        content=[TextContent(type="text", text="drawn")], structured_content=result.model_dump()
    )


@peer.tool()
async def read(map_id: str) -> CallToolResult:
    """A map's summary: its features, bounds and layers (what mapsrv's ``read`` answers)."""
    state = MAPS[map_id]
    features = state.get("features", [])
    lats = [f["at"][0] for f in features] or [0.0]
    lons = [f["at"][1] for f in features] or [0.0]
    bbox = [[min(lats), min(lons)], [max(lats), max(lons)]]
    summary = {
        "map_id": map_id,
        "title": state["title"],
        "version": state["version"],
        "count": len(features),
        "bbox": bbox,
        "view": {"bounds": bbox, "animate": True},
        "layers": {"default": {"visible": True, "marker": len(features)}},
        "latest": [
            {"id": f["id"], "type": "marker", "label": f["label"], "at": list(f["at"])} for f in features
        ],
        "named": [],
    }
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(summary, separators=(",", ":")))],
        structured_content=summary,
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
