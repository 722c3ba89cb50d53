"""The connection to Redis that ``RedisStore`` runs its calls over: the asyncio loop and client,
the breaker, hang detection, and the feed of events and reconnections (see
``mapsrv.store.redis.store`` for the scripts' guarantees; the client is ``client.open_client``).

A call that fails (a timeout: Redis hangs; refused: Redis is down) opens the breaker: every later
call fails at once, so writes go to the hub's held mode without each waiting for the socket
timeout, until the health check's ping gets through and ``Reconnected`` is reported. A call that
has waited past ``hang_after`` (half the socket timeout) already makes the link unavailable (not
ready, new calls fail at once): a stopped Redis is noticed before the first timeout.

redis-py's client is asyncio-only; it runs here inside one long-lived ``trio_asyncio`` loop
(DESIGN.md), and each call crosses to it as one asyncio task that Trio waits for (``_cross``). Every
call has a deadline, kept on the Trio side: a call still running ``socket_timeout`` + 0.5 s after it
started is ended (its asyncio task cancelled, the breaker opened), and a Trio task that is
cancelled stops waiting at once. Neither depends on the asyncio task taking its cancellation: on
Python 3.11 ``asyncio.wait_for`` (which redis-py sends and connects with) can swallow one, and a
Trio wait that relied on it stayed stuck for good. Which client depends on the URL
(``mapsrv.store.redis.url``): one server, Sentinel's primary, or a Cluster. The feed
(``mapsrv.store.redis.feed``) reads pub/sub on the asyncio side and hands over what has arrived in
one crossing; it follows only the maps the hub holds, and resubscribes to all of them (then
reports ``Reconnected``) whenever its connections are re-established. Commits skip the client:
``send`` hands packed commands to the commit writer (``mapsrv.store.redis.writer``), under the
same breaker and deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import outcome
import redis.asyncio as aioredis
import redis.exceptions
import trio
import trio_asyncio

from mapsrv.store.contract import Reconnected, RemoteEvent, StoreMessage, StoreStatistics, StoreUnavailable
from mapsrv.store.redis.client import open_client
from mapsrv.store.redis.feed import STALL, TAG_LENGTH, Feed, Resubscribed
from mapsrv.store.redis.url import parse_redis_url
from mapsrv.store.redis.writer import Job, Waiter, Writer

__all__ = ["UNAVAILABLE", "RedisLink", "ReplicasBehind"]

log = logging.getLogger("mapsrv.redis")

T = TypeVar("T")


class ReplicasBehind(redis.exceptions.RedisError):
    """Fewer replicas than ``wait_replicas`` confirmed a commit (or are attached to the primary):
    the store is unavailable for writes until they are back, as when Redis is down."""


# Redis cannot take writes now: unreachable, read-only (a replica after failover), out of
# memory (noeviction), loading, its primary is down, or its replicas are not confirming writes.
# All mean "unavailable", never a 500. A Cluster none of whose nodes answers raises redis-py's
# own RedisClusterException ("cannot be connected", or a slot no node covers), not a RedisError.
UNAVAILABLE = (
    ReplicasBehind,
    redis.exceptions.RedisClusterException,
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
_FEED_ERRORS = (*UNAVAILABLE, redis.exceptions.RedisError)


async def _close_within(client: Any, seconds: float) -> None:
    """Close the client, giving up after ``seconds``: this runs shielded from Trio's cancellation,
    and an asyncio task that does not finish when cancelled must not hold the shutdown."""
    closing = asyncio.ensure_future(client.aclose())
    await asyncio.wait({closing}, timeout=seconds)


async def _call_with(call: Callable[[Any], Awaitable[T]], client: Any) -> T:
    return await call(client)  # made inside the asyncio task: redis-py may look for its loop


class _Crossing(Waiter):
    """One asyncio task that a Trio task waits for; it is cancelled when the wait ends first."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Task[Any], started: float) -> None:
        super().__init__(started)
        self.task = task
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        result: outcome.Outcome[Any]
        if task.cancelled():
            result = outcome.Error(redis.exceptions.TimeoutError("redis call cancelled"))
        else:
            result = outcome.capture(task.result)  # also marks its exception as retrieved
        self._wake(result)

    def expire(self, after: float) -> None:
        self.task.cancel()
        super().expire(after)

    def _abort(self, raise_cancel: Any) -> trio.lowlevel.Abort:
        self.task.cancel()
        return super()._abort(raise_cancel)


DEADLINE_TICK = 0.1  # seconds between looks at the calls in flight
# Calls crossing to redis-py at once; the others wait their turn on the Trio side, where the
# deadline does not count yet. redis-py's asyncio pool holds at most 100 connections and refuses
# the 101st call at once ("Too many connections"): 1,000 viewers arriving together on a map took
# that for Redis being down, tripped the breaker and answered them all 503. With 64 at once,
# 3,000 arrivals still had calls pass the deadline on the asyncio side; with 16, 6,000 arrivals
# at once were all served (each call takes ~0.3 ms: 16 in flight is ~50,000 calls a second).
CALLS_AT_ONCE = 16
_TIMEOUTS = (redis.exceptions.TimeoutError, TimeoutError)  # no answer in time (a refusal is not one)


class RedisLink:
    def __init__(self, url: str, *, socket_timeout: float = 2.0) -> None:
        self.target = parse_redis_url(url)
        self.tag = secrets.token_hex(TAG_LENGTH // 2)  # marks this process's events in pub/sub
        self.feed = Feed(tag=self.tag, sharded=self.target.kind == "cluster", dead_after=socket_timeout + 1)
        self.socket_timeout = socket_timeout
        self.hang_after = socket_timeout / 2
        self.client: Any = None  # aioredis.Redis, or RedisCluster
        self.deadline = socket_timeout + 0.5  # a call still running after this is ended
        self.writer: Writer | None = None  # commits' own connection (not on a Cluster)
        self._in_flight: dict[Waiter, float] = {}  # calls, oldest first: ``_stalled`` when each began
        self._calls = trio.CapacityLimiter(CALLS_AT_ONCE)
        self._answered_at = -math.inf  # when a call last got its reply
        self._broken = True  # until the first ping gets through
        self._tripped = trio.Event()  # set when the breaker opens: the health check asks at once
        # How often the health check asks while the breaker is open: 0.25 s, doubled (up to 5 s)
        # each time the breaker opens again within 5 s of closing. A refusal the check cannot see
        # (a full Redis answers PING) then costs a re-sync every 5 s, not four a second.
        self.check_every = 0.25
        self._closed_at = -math.inf
        self._loop: Any = None
        self._send: trio.MemorySendChannel[StoreMessage] | None = None
        self._errors = 0
        self._remote = 0
        self._reconnections = 0
        self._trips = 0
        self._batches = 0
        self._first = True  # no generation of the feed has subscribed yet
        # When this process last ran its deadline tick, and for how long in all it did not run
        # when it should have (each tick's lateness, added up: SIGSTOP, a blocked loop, a
        # suspended VM). A call is judged by the time this process ran while it waited, so a
        # process that was stopped does not blame Redis for the time it spent stopped.
        self._ticked = time.monotonic()
        self._stalled = 0.0

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
        async with self._calls:
            if self.client is None or (not probe and not self.available):  # while it waited
                raise StoreUnavailable()
            result: T = await self._wait(
                _Crossing(self._loop.create_task(_call_with(call, self.client)), time.monotonic())
            )
        return result

    async def send(self, packed: bytes, count: int) -> list[Any]:
        """Packed commands through the writer (``count`` replies; a ``ResponseError`` for each
        error reply), under the same breaker and deadline as ``run``."""
        writer = self.writer
        if writer is None or not self.available:
            raise StoreUnavailable()
        job = Job(packed, count, time.monotonic())
        writer.submit(job)
        replies: list[Any] = await self._wait(job)
        return replies

    async def _wait(self, waiter: Waiter) -> Any:
        """Wait for a call already under way, counted in flight (the deadline watches it); a
        failure trips the breaker."""
        self._in_flight[waiter] = self._stalled
        try:
            result = await waiter.wait()
            self._answered_at = time.monotonic()
            return result
        except UNAVAILABLE as exc:
            if isinstance(exc, _TIMEOUTS) and self._waited(waiter, time.monotonic()) < self.hang_after:
                # It timed out while this process was stopped: Redis had no fair chance to
                # answer. The breaker stays closed; the caller may ask again at once (a repeated
                # commit is safe: its batch id tells the store it has it).
                raise StoreUnavailable("the map store did not answer while this process was stalled") from exc
            self._trip(exc)
            raise StoreUnavailable() from exc
        finally:
            del self._in_flight[waiter]

    def _lost_since(self, mark: float, now: float) -> float:
        """Seconds this process did not run, since ``_stalled`` read ``mark`` (the current tick's
        lateness included: it may only now run again)."""
        return self._stalled - mark + max(0.0, now - self._ticked - DEADLINE_TICK)

    def _waited(self, waiter: Waiter, now: float) -> float:
        """How long ``waiter`` has waited while this process ran (time it was stopped left out).
        Never more for a later call than for an earlier one: a stall counted after a call began
        is no longer than the time since it began."""
        return now - waiter.started - self._lost_since(self._in_flight.get(waiter, self._stalled), now)

    def fail(self, exc: Exception) -> StoreUnavailable:
        """A reply that means Redis cannot take writes now (a demoted primary, missing replicas):
        open the breaker, as a failed call does. Raise what this returns."""
        self._trip(exc)
        return StoreUnavailable()

    async def _cross(self, call: Callable[[], Awaitable[T]]) -> T:
        """Wait for a long-running asyncio job (the feed) without a deadline; cancelling the Trio
        side returns at once."""
        return await _Crossing(self._loop.create_task(call()), time.monotonic()).wait()  # type: ignore[no-any-return]

    def _expire_late_calls(self) -> None:
        now = time.monotonic()
        for crossing in list(self._in_flight):
            if self._waited(crossing, now) <= self.deadline:
                break  # oldest first: the rest have waited no longer
            crossing.expire(self.deadline)

    async def _probe(self, client: Any) -> None:
        """Whether calls can go through: a PING, or (under Sentinel, or with ``wait_replicas``) a
        ``ROLE``: a demoted primary still answers PING but cannot take writes, and a primary with
        fewer replicas online than commits wait for cannot confirm them (a replica still syncing
        after a failover; or, in a split brain, the primary that the Sentinels are about to
        demote). Either way drop the connections, so that the next one asks the Sentinels again."""
        wanted = self.target.wait_replicas
        if self.target.kind == "cluster" or (self.target.kind == "single" and not wanted):
            await client.ping()
            return
        role = await client.execute_command("ROLE")
        if role[0] != b"master":  # the client does not decode replies
            await client.connection_pool.disconnect()
            raise redis.exceptions.ReadOnlyError("connected to a replica, not the primary")
        if len(role[2]) < wanted:  # ROLE lists the replicas that are online
            await client.connection_pool.disconnect()
            raise ReplicasBehind(f"the primary has {len(role[2])} of {wanted} replicas online")

    def _hung(self) -> bool:
        """A call has waited for longer than ``hang_after`` and no other call got its reply
        meanwhile: Redis looks stopped (a hung host, a long fork). New calls fail at once rather
        than queue behind it for the socket timeout. While replies keep coming Redis is busy, not
        stopped: 3,000 viewers arriving at once kept calls waiting over a second for their turn
        in this process, and were all answered 503."""
        if not self._in_flight:
            return False
        now = time.monotonic()
        if now - self._answered_at < self.hang_after:
            return False
        return self._waited(next(iter(self._in_flight)), now) > self.hang_after

    def _trip(self, exc: BaseException) -> None:
        self._errors += 1
        if not self._broken:
            log.warning("redis unreachable: %s", exc)
            self._trips += 1
            self._broken = True
            self._tripped.set()
            again = time.monotonic() - self._closed_at < 5.0
            self.check_every = min(self.check_every * 2, 5.0) if again else 0.25

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
            writing = None
            if self.target.kind != "cluster":  # on a Cluster each map's slot has its own node
                self.writer = Writer(client.connection_pool.make_connection)
                writing = loop.create_task(self.writer.run())
            self._send = send
            self._ticked = time.monotonic()
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
                    nursery.start_soon(self._watch_deadlines)
            finally:
                self._send = None
                send.close()
                self._broken = True  # not available once it has stopped serving
                self.client = None
                self.writer = None
                if writing is not None:
                    writing.cancel()
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await self._cross(lambda: _close_within(client, 2.0))

    async def _watch_deadlines(self) -> None:
        while True:
            await trio.sleep(DEADLINE_TICK)
            now = time.monotonic()
            self._stalled += max(0.0, now - self._ticked - DEADLINE_TICK)
            self._ticked = now
            self._expire_late_calls()

    async def _watch_health(self) -> None:
        while True:
            if not self._broken:  # a check every 5 s, or as soon as the breaker opens
                with trio.move_on_after(5.0):
                    await self._tripped.wait()
            if self._broken:
                await trio.sleep(self.check_every)  # ask often, to notice the way back soon
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
            self._tripped = trio.Event()
            self._closed_at = time.monotonic()
        self._reconnections += 1
        await self._report(Reconnected())

    async def _follow(self) -> None:
        """Keep a generation of the feed's connections running; start another when one fails."""
        backoff = 0.1
        while True:
            started, mark = trio.current_time(), self._stalled
            try:
                await self._cross(self.feed.run)
            except _FEED_ERRORS as exc:
                if isinstance(exc, _TIMEOUTS) and self._lost_since(mark, time.monotonic()) > STALL:
                    # It timed out while this process was stopped: Redis may be fine. A new
                    # generation subscribes again, and its Resubscribed makes the hub catch up.
                    log.info("redis subscription timed out while this process was stalled; again")
                else:
                    self._trip(exc)
                    log.warning("redis subscription lost: %s", exc)
            if trio.current_time() - started > 5:
                backoff = 0.1
            await trio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _deliver(self) -> None:
        """Take what the feed has received, one bridge crossing per batch, and report it."""
        while True:
            batch = await self._cross(self.feed.next_batch)
            self._batches += 1
            for item in batch:
                if isinstance(item, Resubscribed):
                    if self._broken or not self._first:
                        await self._reconnected()
                    self._first = False
                    continue
                self._remote += isinstance(item, RemoteEvent)
                await self._report(item)
