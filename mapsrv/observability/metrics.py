"""Prometheus metrics, one registry per server (no module globals), served at ``/metrics``.

Counts that the hub, the store and the MCP layer already keep are read at scrape time by a
collector, so the hot paths pay nothing for them; only request timing is observed per request.
Every label has a small, fixed set of values (routes are the templates of ``mapsrv.http.routes``,
never raw paths: a map's path holds its capability).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mapsrv.observability.collector import CollectorStatistics
from mapsrv.observability.memory import resident
from mapsrv.observability.stalls import StallStatistics
from mapsrv.observability.statistics import McpCounts, ServerStatistics, SourceCounts, WorkCounts

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    def __init__(self, read: Callable[[], ServerStatistics]) -> None:
        self._read = read

    def collect(self) -> Iterator[Any]:
        s = self._read()
        hub = s.hub
        yield GaugeMetricFamily("mapsrv_maps_held", "Maps held in this process's memory", value=hub.maps)
        yield GaugeMetricFamily(
            "mapsrv_sse_connections_active", "Open browser event streams", value=hub.subscribers
        )
        yield CounterMetricFamily(
            "mapsrv_events_published", "Map events fanned out to local viewers", value=hub.events_published
        )
        streams = CounterMetricFamily(
            "mapsrv_sse_streams",
            "Browser event streams opened, by writer: the fan-out on the socket, or a task through ASGI",
            labels=["writer"],
        )
        streams.add_metric(["socket"], s.streams.socket)
        streams.add_metric(["asgi"], s.streams.asgi)
        yield streams
        yield CounterMetricFamily(
            "mapsrv_sse_streams_gzip",
            "Browser event streams opened gzipped (the client accepted it), of the socket ones",
            value=s.streams.gzip,
        )
        yield CounterMetricFamily(
            "mapsrv_subscribers_dropped", "Viewers dropped for falling behind", value=hub.subscribers_dropped
        )
        yield CounterMetricFamily("mapsrv_maps_expired", "Idle maps forgotten", value=hub.maps_expired)
        yield CounterMetricFamily(
            "mapsrv_commit_conflicts",
            "Writes that found a newer version in the store",
            value=hub.commit_conflicts,
        )
        yield GaugeMetricFamily(
            "mapsrv_pending_writes",
            "Write batches held while the store is unreachable",
            value=hub.pending_writes,
        )
        yield from _mcp_families(s.mcp)
        yield CounterMetricFamily("mapsrv_redis_errors", "Failed Redis calls", value=s.store.errors)
        yield CounterMetricFamily(
            "mapsrv_store_breaker_trips",
            "Times the store was marked unavailable (a failed or hung call), so writes were held at once",
            value=s.store.breaker_trips,
        )
        yield CounterMetricFamily(
            "mapsrv_store_reconnections",
            "Times the store came back after being unavailable",
            value=s.store.reconnections,
        )
        yield CounterMetricFamily(
            "mapsrv_remote_events",
            "Events other processes committed, read from the store",
            value=s.store.remote_events,
        )
        limited = CounterMetricFamily(
            "mapsrv_rate_limited",
            "Requests answered 429 by a rate limit, by kind (streams_open: past the open-stream cap)",
            labels=["kind"],
        )
        for kind in ("maps", "maps_global", "writes", "writes_person", "mcp", "streams", "streams_open"):
            limited.add_metric([kind], s.throttle.refused.get(kind, 0))
        yield limited
        early = CounterMetricFamily(
            "mapsrv_early_responses",
            "Responses ready before their request body was read, by what became of the connection",
            labels=["outcome"],
        )
        early.add_metric(["drained"], s.connections.drained)
        early.add_metric(["closed"], s.connections.closed)
        yield early
        yield CounterMetricFamily(
            "mapsrv_connections_paced",
            "Connections whose first request or end waited its turn in a storm (16 go on per loop turn)",
            value=s.connections.paced,
        )
        yield GaugeMetricFamily(
            "mapsrv_ready", "1 when this process is ready for traffic", value=int(s.ready)
        )
        yield from _collector_families(s.collector)
        yield from _stall_families(s.stalls)
        yield from _source_families(s.sources)
        yield from _work_families(s.work)
        yield from _memory_families(s)


def _memory_families(s: ServerStatistics) -> Iterator[Any]:
    """What this process holds, part by part (``mapsrv.observability.memory``)."""
    now = resident()  # read from /proc as the scrape asks
    family = GaugeMetricFamily(
        "mapsrv_resident_bytes",
        "Resident memory: this process's, and its child processes' together (sandboxed readers,"
        " process workers)",
        labels=["process"],
    )
    family.add_metric(["server"], now.server)
    family.add_metric(["workers"], now.workers)
    yield family
    yield GaugeMetricFamily("mapsrv_worker_processes", "Child processes now", value=now.worker_processes)
    yield GaugeMetricFamily(
        "mapsrv_features_held", "Features of the maps held in memory", value=s.hub.features
    )
    yield GaugeMetricFamily(
        "mapsrv_border_points_kept",
        "Points of the regions' outlines kept prepared (the built-in borders, read per question)",
        value=s.held.border_points_kept,
    )
    yield GaugeMetricFamily(
        "mapsrv_join_outlines_loaded",
        "1 once a country's outline has been read for a join or a name (kept, the last 256)",
        value=int(s.held.join_outlines_loaded),
    )
    caches = GaugeMetricFamily(
        "mapsrv_cache_bytes", "Bytes kept by a cache: area outlines (WKB), street tiles", labels=["cache"]
    )
    for name, size in sorted(s.held.cache_bytes.items()):
        caches.add_metric([name], size)
    yield caches


def _mcp_families(mcp: McpCounts) -> Iterator[Any]:
    sessions = GaugeMetricFamily("mapsrv_mcp_sessions", "Open MCP sessions", labels=["transport"])
    sessions.add_metric(["streamable_http"], mcp.http_sessions)
    sessions.add_metric(["sse"], mcp.sse_sessions)
    yield sessions
    stateless = CounterMetricFamily(
        "mapsrv_mcp_stateless_requests",
        "2026-07-28 MCP requests, by who answered: mapsrv's own path (tool calls) or the SDK",
        labels=["path"],
    )
    stateless.add_metric(["direct"], mcp.direct_calls)
    stateless.add_metric(["sdk"], mcp.handed_on)
    yield stateless
    in_sessions = CounterMetricFamily(
        "mapsrv_mcp_session_posts",
        "POSTs in 2025-11-25 Streamable HTTP sessions, by who answered: mapsrv's own path (tool"
        " calls) or the SDK",
        labels=["path"],
    )
    in_sessions.add_metric(["direct"], mcp.session_posts_direct)
    in_sessions.add_metric(["sdk"], mcp.session_posts_sdk)
    yield in_sessions
    book = mcp.sessions
    yield GaugeMetricFamily(
        "mapsrv_mcp_sessions_unanswered",
        "MCP sessions that have sent no request since their initialize",
        value=book.unanswered,
    )
    closed = CounterMetricFamily(
        "mapsrv_mcp_sessions_closed", "MCP sessions mapsrv closed, by reason", labels=["reason"]
    )
    closed.add_metric(["unanswered"], book.closed_unanswered)
    closed.add_metric(["failed_initialize"], book.closed_failed_initialize)
    yield closed
    yield CounterMetricFamily(
        "mapsrv_mcp_sessions_refused_quota",
        "New MCP sessions refused (429) past a client's or an API key's quota",
        value=book.refused_quota,
    )


def _collector_families(c: CollectorStatistics) -> Iterator[Any]:
    passes = CounterMetricFamily(
        "mapsrv_gc_passes", "Garbage collector passes, by generation", labels=["generation"]
    )
    seconds = CounterMetricFamily(
        "mapsrv_gc_seconds", "Time the process stood still in the garbage collector", labels=["generation"]
    )
    longest = GaugeMetricFamily(
        "mapsrv_gc_longest_pause_seconds", "The longest garbage collector pause so far", labels=["generation"]
    )
    for generation in range(3):
        label = [str(generation)]
        passes.add_metric(label, c.passes[generation])
        seconds.add_metric(label, c.seconds[generation])
        longest.add_metric(label, c.longest[generation])
    yield from (passes, seconds, longest)
    yield GaugeMetricFamily(
        "mapsrv_gc_frozen_objects",
        "Objects frozen so far: the garbage collector no longer visits them (some may have been freed since)",
        value=c.frozen,
    )


def _stall_families(w: StallStatistics) -> Iterator[Any]:
    yield CounterMetricFamily(
        "mapsrv_loop_stalls",
        "Times the event loop went more than 50 ms without a turn (see the log for what it was doing)",
        value=w.stalls,
    )
    yield CounterMetricFamily(
        "mapsrv_loop_stall_seconds", "Time the event loop stood still in those stalls", value=w.seconds
    )
    yield GaugeMetricFamily(
        "mapsrv_loop_longest_stall_seconds", "The longest event loop stall so far", value=w.longest
    )
    yield GaugeMetricFamily(
        "mapsrv_loop_longest_busy_stall_seconds",
        "The longest event loop stall so far, counting only the process's CPU time in it",
        value=w.longest_busy,
    )


def _work_families(work: Mapping[str, WorkCounts]) -> Iterator[Any]:
    running = GaugeMetricFamily(
        "mapsrv_work_running", "Calls running in a worker now, by kind of work", labels=["kind"]
    )
    waiting = GaugeMetricFamily(
        "mapsrv_work_waiting", "Calls waiting in a kind's queue for a worker", labels=["kind"]
    )
    calls = CounterMetricFamily(
        "mapsrv_work_calls",
        "Calls handed to the workers, by kind and how they ended: done (answered, or their own error),"
        " refused (the queue was full), cancelled (the caller left), broken (a worker process died)",
        labels=["kind", "outcome"],
    )
    seconds = CounterMetricFamily(
        "mapsrv_work_seconds", "Time the workers spent on the calls done, by kind", labels=["kind"]
    )
    longest = GaugeMetricFamily(
        "mapsrv_work_longest_seconds", "The longest call done so far, by kind", labels=["kind"]
    )
    for kind, pool in work.items():
        running.add_metric([kind], pool.running)
        waiting.add_metric([kind], pool.waiting)
        for outcome in ("done", "refused", "cancelled", "broken"):
            calls.add_metric([kind, outcome], getattr(pool, outcome))
        seconds.add_metric([kind], pool.seconds)
        longest.add_metric([kind], pool.longest)
    yield from (running, waiting, calls, seconds, longest)


def _source_families(o: SourceCounts) -> Iterator[Any]:
    yield GaugeMetricFamily(
        "mapsrv_sources_down",
        "Origins of sources from elsewhere (tile servers, layers' hosts) remembered as down, not tried"
        " until their backoff is over",
        value=o.down,
    )
    yield CounterMetricFamily(
        "mapsrv_sources_marked_down",
        "Times a source's origin was found unreachable and marked down",
        value=o.marked,
    )
    yield CounterMetricFamily(
        "mapsrv_sources_skipped",
        "Fetches and images that left a down source out at once, with no connection tried",
        value=o.skipped,
    )


class Metrics:
    def __init__(self, read_statistics: Callable[[], ServerStatistics]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_duration = Histogram(
            "mapsrv_request_duration_seconds",
            "HTTP requests by route, method and status (streams: until their headers are sent)",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.messages_received = Counter(
            "mapsrv_messages_received",
            "Requests received, by transport",
            ["transport"],
            registry=self.registry,
        )
        self.errors = Counter(
            "mapsrv_errors",
            "Requests answered with an error, by status class",
            ["status"],
            registry=self.registry,
        )
        self.session_duration = Histogram(
            "mapsrv_session_duration_seconds",
            "How long streams and MCP SSE sessions stayed open",
            ["kind"],
            registry=self.registry,
            buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
        )
        self.replication_latency = Histogram(
            "mapsrv_replication_latency_seconds",
            "Time to commit a write batch to the store (memory: ~0)",
            registry=self.registry,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2),
        )
        self.crowd_delivery = Histogram(
            "mapsrv_crowd_delivery_seconds",
            "Time a write took to reach every viewer of a map watched by a crowd (from its first"
            " offer to its last, in slices between the loop's other work)",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.registry.register(_Snapshot(read_statistics))
        # Each request's labelled series, found once: ``labels`` takes a lock and builds its key on
        # every call. Routes are templates and methods and statuses few, so these stay small.
        self._durations: dict[tuple[str, str, int], Any] = {}
        self._received: dict[str, Any] = {}

    def received(self, transport: str) -> None:
        """A request arrived on ``transport``."""
        series = self._received.get(transport)
        if series is None:
            series = self._received[transport] = self.messages_received.labels(transport)
        series.inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method if method in _METHODS else "other", status)
        series = self._durations.get(key)
        if series is None:
            series = self._durations[key] = self.request_duration.labels(key[0], key[1], str(status))
        series.observe(seconds)
        if status >= 400:
            self.errors.labels(f"{status // 100}xx").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


_METHODS = {"GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT"}
