"""Redis as the source of truth, so that any process can serve and recover any map.

Keys share a hash tag per map (``mapsrv:{<id>}:...``) so one map lives in one Redis Cluster slot:

    mapsrv:{id}:map      hash: version, state (snapshot JSON), snap_version, view_key, owner, principal
    mapsrv:{id}:log      stream of events, id ``<version>-0``, trimmed to about ``log_size``
    mapsrv:{id}:batches  sorted set: id of each committed write batch, scored by the version it
                         ended at; the newest ``batch_memory`` are kept
    mapsrv:{id}:events   pub/sub channel: each committed event's JSON
    mapsrv:view:{key}    view key -> map id          mapsrv:user:{id}   browser user -> last map

One Lua script per atomic step. A write is ``COMMIT``: if the batch's id is already in
``batches`` it answers "already committed" and writes nothing (a commit whose reply was lost, or
that sat in Redis's socket buffer while Redis was stopped, is never applied twice); otherwise it
compares the map's version with the one the writer started from, then appends the events, publishes
them, records the batch id and moves the version. A stale process can therefore never overwrite a
newer map: it gets the current version back, catches up from the log and retries. A snapshot is
written when a batch crosses a multiple of ``snapshot_every`` versions, and the log keeps more than
that, so snapshot + log always rebuild the map. ``EVENTS_AFTER`` reads the version and the log
together, so a caller can tell a log that no longer reaches back from one that is complete.

redis-py's client is asyncio-only; it runs here inside one long-lived ``trio_asyncio`` loop and is
awaited from Trio with ``aio_as_trio`` (DESIGN.md). Every process pattern-subscribes to all maps'
channels and reports every event on the channel ``serve`` hands out; the hub ignores maps it does
not hold. A call that fails (a timeout: Redis hangs; refused: Redis is down) opens a breaker: every
later call fails at once, so writes go to the hub's held mode without each waiting for the socket
timeout, until the health check's ping gets through and ``Reconnected`` is reported. A call that
has waited past ``hang_after`` already makes the store unavailable (not ready, new calls fail at
once): a stopped Redis is noticed before the first timeout.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
import trio
import trio_asyncio
from trio_asyncio import aio_as_trio

from mapsrv.core import Event, MapState, apply_event
from mapsrv.core.codec import dumps, event_from_wire, state_from_json
from mapsrv.logs import map_ref
from mapsrv.store.contract import (
    COMMITTED,
    MISSING,
    AlreadyCommitted,
    CommitReply,
    Conflict,
    LoadedMap,
    MapMeta,
    Reconnected,
    RemoteEvent,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
)
from mapsrv.store.redis_scripts import CLAIM, COMMIT, CREATE, EVENTS_AFTER

__all__ = ["RedisStore"]

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


def _map_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:map"


def _log_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:log"


def _batches_key(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:batches"


def _channel(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:events"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    durable = True

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        log_size: int,
        snapshot_every: int = 64,
        batch_memory: int = 4096,
        socket_timeout: float = 2.0,
        hang_after: float | None = None,
    ) -> None:
        self.url = url
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.snapshot_every = snapshot_every
        self.log_size = max(log_size, 4 * snapshot_every)
        self.batch_memory = batch_memory
        self.socket_timeout = socket_timeout
        self.hang_after = hang_after if hang_after is not None else socket_timeout / 2
        self._calls = 0
        self._in_flight: dict[int, float] = {}  # call -> when it started, oldest first
        self._client: aioredis.Redis | None = None
        self._commit: Any = None
        self._events_after: Any = None
        self._claim: Any = None
        self._create: Any = None
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

    # --- plumbing ---------------------------------------------------------------------------

    async def _run(self, call: Callable[[aioredis.Redis], Awaitable[T]], *, probe: bool = False) -> T:
        """One Redis call from Trio. While the breaker is open only a probe goes out; a failure
        opens it."""
        if self._client is None or (not probe and not self.available):
            raise StoreUnavailable()
        client = self._client
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
            self._client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
                health_check_interval=10,
            )
            self._commit = self._client.register_script(COMMIT)
            self._events_after = self._client.register_script(EVENTS_AFTER)
            self._claim = self._client.register_script(CLAIM)
            self._create = self._client.register_script(CREATE)
            self._send = send
            try:
                try:
                    await self._run(lambda c: c.ping(), probe=True)
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
                client, self._client = self._client, None
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await aio_as_trio(client.aclose, loop=self._loop)()

    async def _watch_health(self) -> None:
        while True:
            await trio.sleep(1.0 if self._broken else 5.0)
            try:
                await self._run(lambda c: c.ping(), probe=True)
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
        assert self._client is not None
        backoff = 0.1
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
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

    # --- maps -------------------------------------------------------------------------------

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        """Store a map unless one with this id is there already (then False): a map that expired
        in Redis is recreated by exactly one of the processes that still hold it."""
        fields: dict[Any, Any] = {
            "version": state.version,
            "state": dumps(state.to_json()),
            "snap_version": state.version,
            "view_key": meta.view_key,
        }
        if meta.owner is not None:
            fields["owner"] = meta.owner
        if meta.principal is not None:
            fields["principal"] = meta.principal

        args: list[Any] = [self.ttl_ms]
        for key, value in fields.items():
            args += [key, value]
        script = self._create
        created = await self._run(
            lambda c: script(keys=[_map_key(meta.id), _log_key(meta.id)], args=args, client=c)
        )
        await self._run(lambda c: c.set(f"mapsrv:view:{meta.view_key}", meta.id, px=self.ttl_ms))
        return bool(created)

    async def load(self, map_id: str) -> LoadedMap | None:
        raw = await self._run(lambda c: c.hgetall(_map_key(map_id)))
        if not raw:
            return None
        fields = {_text(k): v for k, v in raw.items()}
        state = state_from_json(json.loads(fields["state"]), map_id)
        version = int(fields["version"])
        if version > state.version:
            events = await self.events_after(map_id, state.version)
            if events is None:
                log.error("map %s: log does not reach back to its snapshot", map_ref(map_id))
                return None
            for event in events:
                state = apply_event(state, event)
        meta = MapMeta(
            id=map_id,
            view_key=_text(fields["view_key"]) or "",
            owner=_text(fields.get("owner")),
            principal=_text(fields.get("principal")),
        )
        return LoadedMap(meta, state)

    async def map_for_view_key(self, view_key: str) -> str | None:
        return _text(await self._run(lambda c: c.get(f"mapsrv:view:{view_key}")))

    async def last_map_of(self, user: str) -> str | None:
        return _text(await self._run(lambda c: c.get(f"mapsrv:user:{user}")))

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self._run(lambda c: c.set(f"mapsrv:user:{user}", map_id, px=self.ttl_ms))

    async def claim(self, map_id: str, owner: str) -> str | None:
        script = self._claim
        return _text(await self._run(lambda c: script(keys=[_map_key(map_id)], args=[owner], client=c)))

    async def commit(
        self,
        map_id: str,
        expected: int,
        events: Sequence[Event],
        state: MapState,
        *,
        snapshot: bool,
        batch_id: str,
    ) -> CommitReply:
        crosses = expected // self.snapshot_every != state.version // self.snapshot_every
        args: list[Any] = [
            expected,
            self.ttl_ms,
            self.log_size,
            _channel(map_id),
            dumps(state.to_json()) if snapshot or crosses else "",
            state.version,
            batch_id,
            self.batch_memory,
        ]
        for event in events:
            args += [event.version, event.wire]
        keys = [_map_key(map_id), _log_key(map_id), _batches_key(map_id)]
        script = self._commit
        status, current = await self._run(lambda c: script(keys=keys, args=args, client=c))
        if status == 1:
            return COMMITTED
        if status == 2:
            return AlreadyCommitted(int(current))
        if status == -1:
            return MISSING
        return Conflict(int(current))

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        """Every event after ``version``, or None when the log no longer reaches back that far."""
        script = self._events_after
        keys = [_map_key(map_id), _log_key(map_id)]
        reply: Any = await self._run(lambda c: script(keys=keys, args=[version], client=c))
        if not reply:
            return None
        current, entries = int(reply[0]), reply[1]
        events = [
            event_from_wire(dict(zip(fields[::2], fields[1::2], strict=True))[b"e"]) for _, fields in entries
        ]
        if len(events) != current - version or (events and events[0].version != version + 1):
            return None
        return events

    async def touch(self, entries: Sequence[tuple[str, str]]) -> None:
        """Keep the keys of maps that are still in use (watched, or recently used) alive."""
        if not entries:
            return

        async def touch(client: aioredis.Redis) -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for map_id, view_key in entries:
                    pipe.pexpire(_map_key(map_id), self.ttl_ms)
                    pipe.pexpire(_log_key(map_id), self.ttl_ms)
                    pipe.pexpire(_batches_key(map_id), self.ttl_ms)
                    pipe.pexpire(f"mapsrv:view:{view_key}", self.ttl_ms)
                return await pipe.execute()

        await self._run(touch)
