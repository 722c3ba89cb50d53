"""Who may do how much: rate limits per client and global, and open streams per client.

A request's kind comes from its route (``mapsrv.http.routes``): creating a map (``/`` without the
user cookie, ``/new``), writing (``POST /m/<id>/ops``), an MCP message (a POST to ``/mcp`` or
``/messages/``: tool calls and everything else an agent sends), or opening a stream (a browser's
event stream, ``GET /sse``, ``GET /mcp``). The client is its API key when it sent a valid one, else
its address (``ClientIdentity``: behind ``trusted_proxies``, the one X-Forwarded-For names).

Budgets are GCRA buckets (``mapsrv.http.ratelimit``). New maps and new streams, the rare requests a
flood is made of, spend budgets shared by every process through Redis when the store is Redis (one
Lua script per step; in memory while Redis is unreachable). Writes and MCP messages, the hot path,
spend this process's own budget: a shared one cost a Redis round trip (0.4-0.8 ms) on every tool
call, and behind a sticky ingress a client's requests land on one process anyway (without one, N
processes allow a client up to N times the rate). Open streams are counted per process: a stream
lives in one process.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, cast

import trio

from mapsrv.config import Config
from mapsrv.errors import TooManyRequests
from mapsrv.http.identity import ApiKeys, ClientIdentity, user_from_cookies
from mapsrv.http.ratelimit import LocalLimiter, Rate
from mapsrv.http.routes import Family, RouteMatch
from mapsrv.http.types import Scope, header
from mapsrv.store import StoreUnavailable

__all__ = [
    "WRITE_ROUTES",
    "Kind",
    "RateLimits",
    "SharedBuckets",
    "Throttle",
    "ThrottleStatistics",
    "kind_of",
]


class Kind(enum.Enum):
    MAPS = "maps"
    WRITES = "writes"
    MCP = "mcp"
    STREAMS = "streams"


_SHARED = frozenset({Kind.MAPS, Kind.STREAMS})  # across processes, with Redis (see the docstring)

_WHAT = {
    Kind.MAPS: "new maps",
    Kind.WRITES: "writes",
    Kind.MCP: "MCP messages",
    Kind.STREAMS: "new streams",
}


@dataclass(frozen=True)
class RateLimits:
    per_client: dict[Kind, Rate]
    maps_global: Rate
    streams_per_client: int
    per_person: Rate  # map writes per person (their cookie), inside the client's budget

    @classmethod
    def from_config(cls, config: Config) -> RateLimits:
        return cls(
            per_client={
                Kind.MAPS: Rate(config.rate_maps, config.burst_maps),
                Kind.WRITES: Rate(config.rate_writes, config.burst_writes),
                Kind.MCP: Rate(config.rate_mcp, config.burst_mcp),
                Kind.STREAMS: Rate(config.rate_streams, config.burst_streams),
            },
            maps_global=Rate(config.rate_maps_global, config.burst_maps_global),
            streams_per_client=config.max_streams_per_client,
            per_person=Rate(config.rate_writes_person, config.burst_writes_person),
        )


@dataclass(frozen=True)
class ThrottleStatistics:
    refused: dict[str, int]  # requests answered 429, by kind ("streams_open": past the open cap)
    open_streams_clients: int  # clients holding at least one stream here


class SharedBuckets(Protocol):
    """What ``Throttle`` asks of a store that can share budgets (``RedisStore.take_rate``)."""

    async def take_rate(self, key: str, interval: float, burst: int, cost: int = 1) -> float: ...


WRITE_ROUTES = frozenset({"/m/{id}/ops", "/m/{id}/undo", "/m/{id}/redo", "/e/{key}/write"})


def kind_of(match: RouteMatch, scope: Scope) -> Kind | None:
    """Which budget a request spends, if any."""
    route, method = match.route, scope["method"]
    if route.template == "/new" or (
        route.template == "/" and method == "GET" and user_from_cookies(header(scope, b"cookie")) is None
    ):
        return Kind.MAPS
    if route.template in WRITE_ROUTES and method == "POST":
        return Kind.WRITES
    if route.family in (Family.MCP_HTTP, Family.MCP_MESSAGES) and method == "POST":
        return Kind.MCP
    if method == "GET" and route.family in (Family.BROWSER_STREAM, Family.MCP_SSE, Family.MCP_HTTP):
        return Kind.STREAMS
    return None


class Throttle:
    def __init__(
        self,
        limits: RateLimits,
        clients: ClientIdentity,
        keys: ApiKeys,
        shared: object = None,  # the store: shared buckets when it has ``take_rate`` (Redis)
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.limits = limits
        self.clients = clients
        self.keys = keys
        # Not ``isinstance`` on a runtime-checkable Protocol: that compares every attribute of the
        # class, and mutmut's trampolines add some (the access group then never shared a budget).
        has_buckets = callable(getattr(shared, "take_rate", None))
        self.shared: SharedBuckets | None = cast(SharedBuckets, shared) if has_buckets else None
        self.local = LocalLimiter()
        self._clock = clock
        self._open: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()

    def client_of(self, scope: Scope) -> str:
        key = self.keys.principal_of(scope)
        if key is not None:
            return "key:" + key
        peer = (scope.get("client") or ("", 0))[0]
        return "ip:" + self.clients.of(peer, header(scope, b"x-forwarded-for"))

    async def _wait_for(self, key: str, rate: Rate, *, shared: bool) -> float:
        """0 when a request may go ahead now, else seconds until it may."""
        if not rate.enabled:
            return 0.0
        if shared and self.shared is not None:
            try:
                return await self.shared.take_rate(key, rate.interval, rate.burst)
            except StoreUnavailable:
                pass  # Redis is away: this process enforces the limit alone meanwhile
        return self._local_wait(key, rate)

    def _local_wait(self, key: str, rate: Rate) -> float:
        """``_wait_for`` on this process's own budget."""
        return self.local.acquire(key, rate, self._clock()).retry_after if rate.enabled else 0.0

    async def check(self, kind: Kind, client: str) -> TooManyRequests | None:
        """Spend one request of ``client``'s budget for ``kind`` (and the global one for new
        maps), or say why not and when to come back."""
        rate = self.limits.per_client[kind]
        key = f"{kind.value}:{client}"
        if kind in _SHARED:
            wait = await self._wait_for(key, rate, shared=True)
        else:  # this process's own budget: no await (a coroutine per request)
            wait = self._local_wait(key, rate)
        if wait > 0:
            self._refused[kind.value] += 1
            return TooManyRequests(
                f"too many {_WHAT[kind]} from this client: at most {rate.per_second:g}/s"
                f" (bursts of {rate.burst}); retry in {wait:.1f} s",
                retry_after=wait,
            )
        if kind is Kind.MAPS:
            total = self.limits.maps_global
            wait = await self._wait_for("maps:*", total, shared=True)
            if wait > 0:
                self._refused["maps_global"] += 1
                return TooManyRequests(
                    f"too many new maps on this server: at most {total.per_second:g}/s;"
                    f" retry in {wait:.1f} s",
                    retry_after=wait,
                )
        return None

    def person_refusal(self, person: str) -> TooManyRequests | None:
        """Spend one of a person's map writes (``person``: the id their changes are attributed
        to). Inside the client's budget, which bounds a client minting cookies; in this process
        (the ingress keeps a browser on one)."""
        rate = self.limits.per_person
        if not rate.enabled:
            return None
        wait = self.local.acquire(f"writes:{person}", rate, self._clock()).retry_after
        if wait <= 0:
            return None
        self._refused["writes_person"] += 1
        return TooManyRequests(
            f"too many changes from you: at most {rate.per_second:g}/s (bursts of {rate.burst});"
            f" retry in {wait:.1f} s",
            retry_after=wait,
        )

    def stream_refusal(self, client: str) -> TooManyRequests | None:
        most = self.limits.streams_per_client
        if self._open[client] >= most:
            self._refused["streams_open"] += 1
            return TooManyRequests(f"this client has {most} streams open, its most; close one", retry_after=5)
        return None

    @contextmanager
    def holding_stream(self, client: str) -> Iterator[None]:
        self._open[client] += 1
        try:
            yield
        finally:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]

    def statistics(self) -> ThrottleStatistics:
        return ThrottleStatistics(refused=dict(self._refused), open_streams_clients=len(self._open))
