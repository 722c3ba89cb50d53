"""What the whole server reports about itself, as typed values, and what the metrics read of them.

The observer does not import what it observes: each shape below is a Protocol that the component's
own ``statistics()`` value matches (``HubStatistics``, ``McpStatistics``, ``StoreStatistics``,
``ConnectionStatistics``, ``ThrottleStatistics``, ``StreamCounts``, ``OriginStatistics``), checked
by mypy where the server registers them (``mapsrv.server``). A new component joins by a field here
and a reading in ``metrics``; nothing here reaches up into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mapsrv.observability.collector import CollectorStatistics
from mapsrv.observability.memory import Held
from mapsrv.observability.stalls import StallStatistics

__all__ = [
    "ConnectionCounts",
    "HubCounts",
    "McpCounts",
    "ServerStatistics",
    "SessionCounts",
    "SourceCounts",
    "StoreCounts",
    "StreamWriters",
    "ThrottleCounts",
    "WorkCounts",
]


class HubCounts(Protocol):
    @property
    def maps(self) -> int: ...
    @property
    def subscribers(self) -> int: ...
    @property
    def events_published(self) -> int: ...
    @property
    def subscribers_dropped(self) -> int: ...
    @property
    def maps_expired(self) -> int: ...
    @property
    def commit_conflicts(self) -> int: ...
    @property
    def pending_writes(self) -> int: ...
    @property
    def features(self) -> int: ...


class SessionCounts(Protocol):
    @property
    def unanswered(self) -> int: ...
    @property
    def closed_unanswered(self) -> int: ...
    @property
    def closed_failed_initialize(self) -> int: ...
    @property
    def refused_quota(self) -> int: ...


class McpCounts(Protocol):
    @property
    def http_sessions(self) -> int: ...
    @property
    def sse_sessions(self) -> int: ...
    @property
    def sessions(self) -> SessionCounts: ...
    @property
    def direct_calls(self) -> int: ...
    @property
    def handed_on(self) -> int: ...
    @property
    def session_posts_direct(self) -> int: ...
    @property
    def session_posts_sdk(self) -> int: ...


class StoreCounts(Protocol):
    @property
    def errors(self) -> int: ...
    @property
    def breaker_trips(self) -> int: ...
    @property
    def reconnections(self) -> int: ...
    @property
    def remote_events(self) -> int: ...


class ConnectionCounts(Protocol):
    @property
    def drained(self) -> int: ...
    @property
    def closed(self) -> int: ...
    @property
    def paced(self) -> int: ...


class ThrottleCounts(Protocol):
    @property
    def refused(self) -> Mapping[str, int]: ...


class SourceCounts(Protocol):
    @property
    def down(self) -> int: ...
    @property
    def marked(self) -> int: ...
    @property
    def skipped(self) -> int: ...


class WorkCounts(Protocol):
    """One kind of work's pool (``mapsrv.workers.PoolStatistics``)."""

    @property
    def running(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def refused(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    @property
    def broken(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def longest(self) -> float: ...


class StreamWriters(Protocol):
    @property
    def socket(self) -> int: ...
    @property
    def asgi(self) -> int: ...
    @property
    def gzip(self) -> int: ...


@dataclass(frozen=True)
class ServerStatistics:
    hub: HubCounts
    mcp: McpCounts
    store: StoreCounts
    connections: ConnectionCounts
    throttle: ThrottleCounts
    streams: StreamWriters  # a copy
    ready: bool  # the store answers and the server is not draining
    collector: CollectorStatistics
    stalls: StallStatistics
    sources: SourceCounts  # sources from elsewhere (tile servers, layers' hosts) that are down
    work: Mapping[str, WorkCounts]  # the worker pools, by kind of work
    held: Held = field(default_factory=Held)  # what the parts keep
