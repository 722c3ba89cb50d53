"""``mapsrv gateway``: any stdio MCP server on Streamable HTTP and legacy SSE, a child process per
session, every child's process group killed when its session ends (docs/gateway.md)."""

from mapsrv.gateway.serve import Gateway, serve_gateway

__all__ = ["Gateway", "serve_gateway"]
