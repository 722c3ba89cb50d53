"""What the whole server reports about itself, as typed values: the hub's counts, the MCP
sessions, the store's health, and readiness. The metrics collector reads these attributes."""

from __future__ import annotations

from dataclasses import dataclass

from mapsrv.event_stream import StreamCounts
from mapsrv.hub import HubStatistics
from mapsrv.hygiene import ConnectionStatistics
from mapsrv.mcp_server import McpStatistics
from mapsrv.store import StoreStatistics
from mapsrv.throttle import ThrottleStatistics

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
