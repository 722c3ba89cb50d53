"""The connection to Redis that ``RedisStore`` runs its calls over: the asyncio loop and client,
the breaker, hang detection, and the feed of events and reconnections (see mapsrv/store/redis.py
for the key layout and the scripts' guarantees).

A call that fails (a timeout: Redis hangs; refused: Redis is down) opens the breaker: every later
call fails at once, so writes go to the hub's held mode without each waiting for the socket
timeout, until the health check's ping gets through and ``Reconnected`` is reported. A call that
has waited past ``hang_after`` already makes the link unavailable (not ready, new calls fail at
once): a stopped Redis is noticed before the first timeout.

redis-py's client is asyncio-only; it runs here inside one long-lived ``trio_asyncio`` loop and is
awaited from Trio with ``aio_as_trio`` (DESIGN.md). Which client depends on the URL
(``mapsrv.store.redis_url``): one server, Sentinel's primary, or a Cluster. The feed
(``mapsrv.store.redis_feed``) reads pub/sub on the asyncio side and hands over what has arrived in
one crossing; it follows only the maps the hub holds, and resubscribes to all of them (then
reports ``Reconnected``) whenever its connections are re-established.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
import trio
import trio_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from trio_asyncio import aio_as_trio

from mapsrv.store.contract import Reconnected, RemoteEvent, StoreMessage, StoreStatistics, StoreUnavailable
from mapsrv.store.redis_feed import TAG_LENGTH, Feed, Resubscribed
from mapsrv.store.redis_url import RedisTarget, parse_redis_url

__all__ = ["RedisLink", "open_client"]

log = logging.getLogger("mapsrv.redis")

T = TypeVar("T")

# Redis cannot take writes now: unreachable, read-only (a replica after failover), out of
# memory (noeviction), loading, or its primary is down. All mean "unavailable", never a 500.
_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    OSError,
)
# What ends a generation of the feed's connections (also a refused subscription, or one that
# Redis ended: the next generation subscribes again, wherever the map's slot is now).
_FEED_ERRORS = (*_ERRORS, redis.exceptions.RedisError)


def open_client(target: RedisTarget, *, socket_timeout: float) -> Any:
    """redis-py's asyncio client for this target. Call inside the asyncio loop."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "health_check_interval": 10,
        # After Redis restarts, the pool's first call on each old connection fails ("closed by
        # server"): try once more on a fresh one. Safe for every call (commits carry batch ids);
        # not on timeouts, where a hung Redis must trip the breaker, not be waited twice.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    }
    if target.kind == "single":
        return aioredis.Redis.from_url(target.url, **options)
    auth: dict[str, Any] = {"username": target.username, "password": target.password, "ssl": target.tls}
    if target.kind == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        sentinels = Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes),
            sentinel_kwargs={
                "socket_timeout": socket_timeout,
                "socket_connect_timeout": socket_timeout,
                "password": target.sentinel_password,
            },
        )
        return sentinels.master_for(target.service, db=target.db, **auth, **options)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        **auth,
        **options,
    )


async def _close_within(client: Any, seconds: float) -> None:
    """Close the client, giving up after ``seconds``: this runs shielded from Trio's cancellation,
    and an asyncio task that does not finish when cancelled must not hold the shutdown."""
    closing = asyncio.ensure_future(client.aclose())
    await asyncio.wait({closing}, timeout=seconds)


class RedisLink:
    def __init__(self, url: str, *, socket_timeout: float = 2.0, hang_after: float | None = None) -> None:
        self.url = url
        self.target = parse_redis_url(url)
        self.tag = secrets.token_hex(TAG_LENGTH // 2)  # marks this process's events in pub/sub
        self.feed = Feed(tag=self.tag, sharded=self.target.kind == "cluster", dead_after=socket_timeout + 1)
        self.socket_timeout = socket_timeout
        self.hang_after = hang_after if hang_after is not None else socket_timeout / 2
        self.client: Any = None  # aioredis.Redis, or RedisCluster
        self._calls = 0
        self._in_flight: dict[int, float] = {}  # call -> when it started, oldest first
        self._broken = True  # until the first ping gets through
        self._loop: Any = None
        self._send: trio.MemorySendChannel[StoreMessage] | None = None
        self._errors = 0
        self._remote = 0
        self._reconnections = 0
        self._trips = 0
        self._batches = 0
        self._first = True  # no generation of the feed has subscribed yet

    @property
    def available(self) -> bool:
        return not self._broken and not self._hung()

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            available=self.available,
            errors=self._errors,
            remote_events=self._remote,
            reconnections=self._reconnections,
            breaker_trips=self._trips,
            followed_maps=len(self.feed.wanted),
            echoes_skipped=self.feed.echoes,
            feed_batches=self._batches,
        )

    async def run(self, call: Callable[[aioredis.Redis], Awaitable[T]], *, probe: bool = False) -> T:
        """One Redis call from Trio. While the breaker is open only a probe goes out; a failure
        opens it."""
        if self.client is None or (not probe and not self.available):
            raise StoreUnavailable()
        client = self.client
        token = self._calls = self._calls + 1
        self._in_flight[token] = time.monotonic()
        try:
            result: T = await aio_as_trio(lambda: call(client), loop=self._loop)()
        except _ERRORS as exc:
            self._trip(exc)
            raise StoreUnavailable() from exc
        finally:
            del self._in_flight[token]
        return result

    async def _probe(self, client: Any) -> None:
        """Whether calls can go through: a PING, and under Sentinel a ``ROLE`` (a demoted primary
        still answers PING, but cannot take writes: drop the connections, ask the Sentinels)."""
        if self.target.kind != "sentinel":
            await client.ping()
            return
        role = await client.execute_command("ROLE")
        if role[0] not in (b"master", "master"):
            await client.connection_pool.disconnect()
            raise redis.exceptions.ReadOnlyError("connected to a replica: asking the sentinels again")

    def _hung(self) -> bool:
        """A call has waited for longer than ``hang_after``: Redis looks stopped (a hung host, a
        long fork). New calls fail at once rather than queue behind it for the socket timeout."""
        if not self._in_flight:
            return False
        return time.monotonic() - next(iter(self._in_flight.values())) > self.hang_after

    def _trip(self, exc: BaseException) -> None:
        self._errors += 1
        if not self._broken:
            log.warning("redis unreachable: %s", exc)
            self._trips += 1
            self._broken = True

    async def _report(self, message: StoreMessage) -> None:
        if self._send is not None:
            await self._send.send(message)

    async def serve(
        self,
        *,
        task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Own the asyncio loop and the client; follow every process's events; notice Redis
        coming back. Starts even while Redis is down (not ready)."""
        send, receive = trio.open_memory_channel[StoreMessage](1024)
        async with trio_asyncio.open_loop() as loop:
            # Requests run in hypercorn's tasks, outside this context: name the loop explicitly.
            self._loop = loop
            self.client = client = open_client(self.target, socket_timeout=self.socket_timeout)
            self.feed.attach(client)
            self._send = send
            try:
                try:
                    await self.run(self._probe, probe=True)
                    self._broken = False
                except StoreUnavailable:
                    pass
                task_status.started(receive)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._follow)
                    nursery.start_soon(self._deliver)
                    nursery.start_soon(self._watch_health)
            finally:
                self._send = None
                send.close()
                self.client = None
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await aio_as_trio(_close_within, loop=self._loop)(client, 2.0)

    async def _watch_health(self) -> None:
        while True:
            await trio.sleep(1.0 if self._broken else 5.0)
            try:
                await self.run(self._probe, probe=True)
            except StoreUnavailable:
                continue
            if self._broken:
                await self._reconnected()

    async def _reconnected(self) -> None:
        """A call got through: close the breaker, and let the hub re-sync (events published
        while the feed was down are lost to pub/sub, and held writes can go now)."""
        if self._broken:
            log.info("redis is back")
            self._broken = False
        self._reconnections += 1
        await self._report(Reconnected())

    async def _follow(self) -> None:
        """Keep a generation of the feed's connections running; start another when one fails."""
        backoff = 0.1
        while True:
            started = trio.current_time()
            try:
                await aio_as_trio(self.feed.run, loop=self._loop)()
            except _FEED_ERRORS as exc:
                self._trip(exc)
                log.warning("redis subscription lost: %s", exc)
            if trio.current_time() - started > 5:
                backoff = 0.1
            await trio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _deliver(self) -> None:
        """Take what the feed has received, one bridge crossing per batch, and report it."""
        while True:
            batch = await aio_as_trio(self.feed.next_batch, loop=self._loop)()
            self._batches += 1
            for item in batch:
                if isinstance(item, Resubscribed):
                    if self._broken or not self._first:
                        await self._reconnected()
                    self._first = False
                    continue
                self._remote += isinstance(item, RemoteEvent)
                await self._report(item)
