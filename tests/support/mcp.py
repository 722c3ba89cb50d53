"""Raw MCP messages for tests that speak HTTP to the MCP endpoints without the SDK's client."""

from __future__ import annotations

__all__ = ["INITIALIZE", "MCP_ACCEPT"]

# A 2025-11-25 initialize request: on Streamable HTTP it opens a stateful session.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_ACCEPT = {"accept": "application/json, text/event-stream"}
