"""Redis as the source of truth, so that any process can serve and recover any map.

Keys share a hash tag per map (``mapsrv:{<id>}:...``) so one map lives in one Redis Cluster slot:

    mapsrv:{id}:map     hash: version, state (snapshot JSON), snap_version, view_key, owner, principal
    mapsrv:{id}:log     stream of events, id ``<version>-0``, trimmed to about ``log_size``
    mapsrv:{id}:events  pub/sub channel: each committed event's JSON
    mapsrv:view:{key}   view key -> map id          mapsrv:user:{id}   browser user -> last map

A write is one script (``COMMIT``): compare the map's version with the one the writer started
from, then append the events, publish them and move the version, atomically. A stale process can
therefore never overwrite a newer map: it gets the current version back, catches up from the log
and retries. A snapshot is written when a batch crosses a multiple of ``snapshot_every``
versions, and the log keeps more than that, so snapshot + log always rebuild the map.

redis-py's client is asyncio-only; it runs here inside one long-lived ``trio_asyncio`` loop and is
awaited from Trio with ``aio_as_trio`` (DESIGN.md). Every process pattern-subscribes to all maps'
channels and ignores maps it does not hold: no subscription bookkeeping on the hot path, at the
cost of every process reading every event (fine for a handful of pods).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
import trio
import trio_asyncio
from trio_asyncio import aio_as_trio

from mapsrv.core import Event, MapState
from mapsrv.core.codec import dumps, event_from_wire, state_from_json, wire
from mapsrv.logs import map_ref
from mapsrv.store import Conflict, LoadedMap, MapMeta, StoreStatistics, StoreUnavailable

if TYPE_CHECKING:
    from mapsrv.hub import MapHub

__all__ = ["RedisStore"]

log = logging.getLogger("mapsrv.redis")

T = TypeVar("T")

COMMIT = """
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {-1, -1} end
if tonumber(current) ~= tonumber(ARGV[1]) then return {0, tonumber(current)} end
local last = current
for i = 7, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[i] .. '-0', 'e', ARGV[i + 1])
  redis.call('PUBLISH', ARGV[4], ARGV[i + 1])
  last = ARGV[i]
end
redis.call('HSET', KEYS[1], 'version', last)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[5], 'snap_version', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {1, tonumber(last)}
"""

CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'owner', ARGV[1])
return redis.call('HGET', KEYS[1], 'owner')
"""

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


def _channel(map_id: str) -> str:
    return f"mapsrv:{{{map_id}}}:events"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    durable = True

    def __init__(self, url: str, *, ttl: float, log_size: int, snapshot_every: int = 64) -> None:
        self.url = url
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.snapshot_every = snapshot_every
        self.log_size = max(log_size, 4 * snapshot_every)
        self._client: aioredis.Redis | None = None
        self._commit: Any = None
        self._claim: Any = None
        self._create: Any = None
        self._available = False
        self._loop: Any = None
        self.errors = 0

    @property
    def available(self) -> bool:
        return self._available

    def statistics(self) -> StoreStatistics:  # TODO(merge): the hub branch's version wins
        return StoreStatistics(available=self._available, errors=self.errors)

    # --- plumbing ---------------------------------------------------------------------------

    async def _run(self, call: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """One Redis call from Trio; a connection failure marks the store unavailable."""
        if self._client is None:
            raise StoreUnavailable()
        client = self._client
        try:
            result: T = await aio_as_trio(lambda: call(client), loop=self._loop)()
        except _ERRORS as exc:
            if self._available:
                log.warning("redis unreachable: %s", exc)
            self._available = False
            self.errors += 1
            raise StoreUnavailable() from exc
        self._available = True
        return result

    async def serve(
        self, hub: MapHub, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Own the asyncio loop and the client; follow other processes' events; notice Redis
        coming back and have the hub re-sync. Starts even while Redis is down (not ready)."""
        async with trio_asyncio.open_loop() as loop:
            # Requests run in hypercorn's tasks, outside this context: name the loop explicitly.
            self._loop = loop
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=10
            )
            self._commit = self._client.register_script(COMMIT)
            self._claim = self._client.register_script(CLAIM)
            self._create = self._client.register_script(CREATE)
            try:
                try:
                    await self._run(lambda c: c.ping())
                except StoreUnavailable:
                    pass
                task_status.started()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._follow, hub)
                    nursery.start_soon(self._watch_health, hub)
            finally:
                client, self._client = self._client, None
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await aio_as_trio(client.aclose, loop=self._loop)()

    async def _watch_health(self, hub: MapHub) -> None:
        while True:
            await trio.sleep(1.0 if not self._available else 5.0)
            was = self._available
            try:
                await self._run(lambda c: c.ping())
            except StoreUnavailable:
                continue
            if not was or hub.statistics().pending_writes:
                if not was:
                    log.info("redis is back: re-syncing held maps")
                try:
                    await hub.resync()
                except Exception:
                    log.exception("re-sync failed; will retry")

    async def _follow(self, hub: MapHub) -> None:
        """Events committed by any process, for the maps this process holds."""
        assert self._client is not None
        backoff = 0.1
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await aio_as_trio(pubsub.psubscribe, loop=self._loop)("mapsrv:{*}:events")
                resubscribed = True
                backoff = 0.1
                while True:
                    message = await aio_as_trio(pubsub.get_message, loop=self._loop)(timeout=1.0)
                    if resubscribed:
                        # Events published while we were not listening are lost to pub/sub;
                        # the log has them.
                        resubscribed = False
                        await hub.resync()
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = _text(message["channel"]) or ""
                    map_id = channel[len("mapsrv:{") : -len("}:events")]
                    try:
                        await hub.receive_remote(map_id, message["data"])
                    except Exception:  # one bad event must not stop following every map
                        log.exception("could not apply an event from another process")
            except _ERRORS as exc:
                self._available = False
                self.errors += 1
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
            from mapsrv.core import apply_event

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
        self, map_id: str, expected: int, events: Sequence[Event], state: MapState, *, snapshot: bool
    ) -> Conflict | None:
        crosses = expected // self.snapshot_every != state.version // self.snapshot_every
        args: list[Any] = [
            expected,
            self.ttl_ms,
            self.log_size,
            _channel(map_id),
            dumps(state.to_json()) if snapshot or crosses else "",
            state.version,
        ]
        for event in events:
            args += [event.version, wire(event)]
        script = self._commit
        status, current = await self._run(
            lambda c: script(keys=[_map_key(map_id), _log_key(map_id)], args=args, client=c)
        )
        if status == 1:
            return None
        return Conflict(current=int(current))

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        """Every event after ``version``, or None when the log no longer reaches back that far."""
        entries: Any = await self._run(lambda c: c.xrange(_log_key(map_id), min=f"{version + 1}-0"))
        events = [event_from_wire(fields[b"e"]) for _, fields in entries or []]
        if events and events[0].version != version + 1:
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
                    pipe.pexpire(f"mapsrv:view:{view_key}", self.ttl_ms)
                return await pipe.execute()

        await self._run(touch)
