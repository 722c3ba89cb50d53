"""What the whole server reports about itself, as typed values: the hub's counts, the MCP
sessions, the store's health, and readiness. The metrics collector reads these attributes."""

from __future__ import annotations

from dataclasses import dataclass

from mapsrv.http.hygiene import ConnectionStatistics
from mapsrv.http.throttle import ThrottleStatistics
from mapsrv.hub import HubStatistics
from mapsrv.mcp.endpoints import McpStatistics
from mapsrv.store import StoreStatistics
from mapsrv.web.stream import StreamCounts

__all__ = ["ServerStatistics"]


@dataclass(frozen=True)
class ServerStatistics:
    hub: HubStatistics
    mcp: McpStatistics
    store: StoreStatistics
    connections: ConnectionStatistics
    throttle: ThrottleStatistics
    streams: StreamCounts  # a copy
    ready: bool  # the store answers and the server is not draining
