"""The connection to Redis that ``RedisStore`` runs its calls over: the asyncio loop and client,
the breaker, hang detection, and the feed of events and reconnections (see mapsrv/store/redis.py
for the key layout and the scripts' guarantees).

A call that fails (a timeout: Redis hangs; refused: Redis is down) opens the breaker: every later
call fails at once, so writes go to the hub's held mode without each waiting for the socket
timeout, until the health check's ping gets through and ``Reconnected`` is reported. A call that
has waited past ``hang_after`` already makes the link unavailable (not ready, new calls fail at
once): a stopped Redis is noticed before the first timeout.

redis-py's client is asyncio-only; it runs here inside one long-lived ``trio_asyncio`` loop and is
awaited from Trio with ``aio_as_trio`` (DESIGN.md). The feed pattern-subscribes to every map's
channel and reports every event; the hub ignores maps it does not hold.
"""

from __future__ import annotations

import logging
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

__all__ = ["RedisLink"]

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
    OSError,
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLink:
    def __init__(self, url: str, *, socket_timeout: float = 2.0, hang_after: float | None = None) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
        self.hang_after = hang_after if hang_after is not None else socket_timeout / 2
        self.client: aioredis.Redis | None = None
        self._calls = 0
        self._in_flight: dict[int, float] = {}  # call -> when it started, oldest first
        self._broken = True  # until the first ping gets through
        self._loop: Any = None
        self._send: trio.MemorySendChannel[StoreMessage] | None = None
        self._errors = 0
        self._remote = 0
        self._reconnections = 0
        self._trips = 0

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
            self.client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
                health_check_interval=10,
                # After Redis restarts, the pool's first call on each old connection fails ("closed
                # by server"): try once more on a fresh one. Safe for every call (commits carry batch
                # ids); not on timeouts, where a hung Redis must trip the breaker, not be waited twice.
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
            )
            self._send = send
            try:
                try:
                    await self.run(lambda c: c.ping(), probe=True)
                    self._broken = False
                except StoreUnavailable:
                    pass
                task_status.started(receive)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._follow)
                    nursery.start_soon(self._watch_health)
            finally:
                self._send = None
                send.close()
                client, self.client = self.client, None
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await aio_as_trio(client.aclose, loop=self._loop)()

    async def _watch_health(self) -> None:
        while True:
            await trio.sleep(1.0 if self._broken else 5.0)
            try:
                await self.run(lambda c: c.ping(), probe=True)
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
        """Events committed by any process, reported for every map."""
        assert self.client is not None
        backoff = 0.1
        first = True
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await aio_as_trio(pubsub.psubscribe, loop=self._loop)("mapsrv:{*}:events")
                resubscribed = True
                backoff = 0.1
                while True:
                    message = await aio_as_trio(pubsub.get_message, loop=self._loop)(timeout=1.0)
                    if resubscribed:
                        resubscribed = False
                        if self._broken or not first:
                            await self._reconnected()
                        first = False
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = _text(message["channel"]) or ""
                    self._remote += 1
                    await self._report(
                        RemoteEvent(channel[len("mapsrv:{") : -len("}:events")], message["data"])
                    )
            except _ERRORS as exc:
                self._trip(exc)
                log.warning("redis subscription lost: %s", exc)
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    try:
                        await aio_as_trio(pubsub.aclose, loop=self._loop)()
                    except _ERRORS:
                        pass
            await trio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
