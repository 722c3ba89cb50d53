"""The gateway's Prometheus metrics, read from ``Sessions`` and ``Children`` at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from mapsrv.gateway.sessions import Sessions

__all__ = ["GatewayMetrics"]

SPAWN_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Collector(Collector):
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self._spawn_counts = [0] * (len(SPAWN_BUCKETS) + 1)
        self._spawn_sum = 0.0

    def collect(self) -> Iterator[Any]:
        s = self.sessions
        open_ = GaugeMetricFamily("mapsrv_gateway_sessions", "Open sessions", labels=["server", "transport"])
        counts: dict[tuple[str, str], int] = {}
        for session in s.open.values():
            counts[(session.server, session.transport)] = (
                counts.get((session.server, session.transport), 0) + 1
            )
        for (server, transport), n in sorted(counts.items()):
            open_.add_metric([server, transport], n)
        yield open_
        yield CounterMetricFamily("mapsrv_gateway_sessions_opened", "Sessions opened", value=s.opened)
        yield CounterMetricFamily("mapsrv_gateway_spawns", "Children spawned", value=s.children.spawns)
        exits = CounterMetricFamily(
            "mapsrv_gateway_child_exits", "Children ended, by reason", labels=["reason"]
        )
        for reason, n in sorted(s.children.exits.items()):
            exits.add_metric([reason], n)
        yield exits
        warm = GaugeMetricFamily(
            "mapsrv_gateway_warm_children", "Spawned children waiting", labels=["server"]
        )
        for name, pool in s.pools.items():
            warm.add_metric([name], pool.ready)
        yield warm
        for seconds in s.spawn_seconds:
            index = next((i for i, b in enumerate(SPAWN_BUCKETS) if seconds <= b), len(SPAWN_BUCKETS))
            self._spawn_counts[index] += 1
            self._spawn_sum += seconds
        s.spawn_seconds.clear()
        cumulative, buckets = 0, []
        for bound, n in zip([*map(str, SPAWN_BUCKETS), "+Inf"], self._spawn_counts, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "mapsrv_gateway_session_start_seconds",
            "Time to get a session's child (warm or spawned)",
            buckets=buckets,
            sum_value=self._spawn_sum,
        )
        stats = s.live_stats()
        messages = CounterMetricFamily("mapsrv_gateway_messages", "Messages relayed", labels=["direction"])
        messages.add_metric(["to_server"], stats.messages_in)
        messages.add_metric(["to_client"], stats.messages_out)
        yield messages
        size = CounterMetricFamily("mapsrv_gateway_message_bytes", "Bytes relayed", labels=["direction"])
        size.add_metric(["to_server"], stats.bytes_in)
        size.add_metric(["to_client"], stats.bytes_out)
        yield size
        yield CounterMetricFamily(
            "mapsrv_gateway_dropped_lines", "Non-JSON-RPC stdout lines dropped", value=stats.dropped_lines
        )
        yield CounterMetricFamily(
            "mapsrv_gateway_oversize_messages", "Messages over max-line dropped", value=stats.oversize
        )


class GatewayMetrics:
    CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

    def __init__(self, sessions: Sessions) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Collector(sessions))

    def render(self) -> bytes:
        return generate_latest(self.registry)
