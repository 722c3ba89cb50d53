"""The feed of events from Redis pub/sub, read on the asyncio side of the trio-asyncio bridge.

Each crossing of the bridge costs about as much as a Redis round trip (DESIGN.md), so the reading
happens here, in asyncio tasks, and the Trio side takes everything that has arrived in one
crossing (``Feed.next_batch``). The feed subscribes only to the maps this process follows
(``follow``/``unfollow``, plain calls from Trio: same thread, no crossing); with a Redis Cluster
it uses sharded pub/sub (``SSUBSCRIBE``), one connection per primary that owns a followed map's
slot. A process's own events come back prefixed with its tag and are dropped here, unparsed.

One ``run`` is one generation of connections: it subscribes to everything followed, reports
``Resubscribed`` once all of it is confirmed, then ``Followed(map_id)`` as each later
subscription is confirmed (events committed before that were not heard: the hub catches up).
It returns only by raising, when a connection fails or stops answering pings; the caller starts
the next generation.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mapsrv.store.contract import Followed, RemoteEvent

__all__ = ["STALL", "TAG_LENGTH", "Feed", "Resubscribed", "channel_of"]

TAG_LENGTH = 12  # hex digits of a process's tag; then one space, then the event's JSON
# Seconds a timer may fire late before we say this process stalled (SIGSTOP, a blocked loop, a
# suspended VM), rather than Redis: then a silence or a slow reply is not Redis's fault.
STALL = 0.5
_HEAD, _TAIL = b"mapsrv:{", b"}:events"
_CHUNK = 1000  # channels per (S)SUBSCRIBE command


def channel_of(map_id: str) -> bytes:
    return _HEAD + map_id.encode() + _TAIL


@dataclass(frozen=True)
class Resubscribed:
    """A new generation of connections has every followed map subscribed again."""


FeedItem = RemoteEvent | Followed | Resubscribed


class _Subscriber:
    """One pub/sub connection: to the server (or Sentinel's primary), or to one cluster primary."""

    def __init__(self, feed: Feed, connection: Any) -> None:
        self.feed = feed
        self.connection = connection
        self.want: set[bytes] = set()
        self.active: set[bytes] = set()  # confirmed by Redis
        self.subscribing: set[bytes] = set()  # sent, not confirmed yet
        self.unsubscribing: set[bytes] = set()
        self.heard = 0.0  # loop time of the last reply
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.connection.connect()
        self.heard = asyncio.get_running_loop().time()
        for job in (self._read(), self._ping()):
            task = asyncio.ensure_future(job)
            task.add_done_callback(self.feed._task_done)
            self.tasks.append(task)

    async def sync(self) -> None:
        """Send what it takes to make the subscriptions ``want``."""
        add = sorted(self.want - self.active - self.subscribing)
        drop = sorted((self.active | self.subscribing) - self.want - self.unsubscribing)
        on, off = ("SSUBSCRIBE", "SUNSUBSCRIBE") if self.feed.sharded else ("SUBSCRIBE", "UNSUBSCRIBE")
        step = 1 if self.feed.sharded else _CHUNK  # one SSUBSCRIBE names channels of one slot only
        for command, channels, pending in ((on, add, self.subscribing), (off, drop, self.unsubscribing)):
            for i in range(0, len(channels), step):
                chunk = channels[i : i + step]
                pending.update(chunk)
                await self.connection.send_command(command, *chunk, check_health=False)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        feed = self.feed
        while True:
            reply = await self.connection.read_response(timeout=math.inf, push_request=True)
            self.heard = loop.time()
            if not isinstance(reply, list):
                continue  # PONG outside subscribed mode
            kind = reply[0]
            if kind == b"message" or kind == b"smessage":
                feed._message(reply[1], reply[2])
            elif kind == b"subscribe" or kind == b"ssubscribe":
                self.subscribing.discard(reply[1])
                self.active.add(reply[1])
                feed._subscribed(reply[1], reply[1] in self.want and reply[1] not in self.unsubscribing)
            elif kind == b"unsubscribe" or kind == b"sunsubscribe":
                self.active.discard(reply[1])
                if reply[1] not in self.unsubscribing:  # Redis dropped it: its slot moved away
                    raise RedisConnectionError(f"redis ended the subscription to {reply[1]!r}")
                self.unsubscribing.discard(reply[1])
                if reply[1] in self.want:
                    feed._wake()  # followed again meanwhile: subscribe again

    async def _ping(self) -> None:
        """Ask when nothing has been heard for a while; a connection silent past ``dead_after``
        is dead (a hung or unreachable Redis), whatever its socket says."""
        loop = asyncio.get_running_loop()
        while True:
            slept_from = loop.time()
            await asyncio.sleep(self.feed.ping_every)
            if loop.time() - slept_from > self.feed.ping_every + STALL:
                # This process did not run for a while (stopped, or its loop blocked): whatever
                # Redis sent meanwhile is still waiting in the socket, unread. Not Redis's silence.
                self.heard = max(self.heard, loop.time() - self.feed.ping_every)
            quiet = loop.time() - self.heard
            if quiet > self.feed.dead_after:
                raise RedisTimeoutError(f"redis pub/sub silent for {quiet:.1f} s")
            if quiet >= self.feed.ping_every:
                await self.connection.send_command("PING", check_health=False)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.connection.disconnect(nowait=True)


class Feed:
    """The asyncio side: subscriptions, connections, and what has arrived for Trio."""

    def __init__(self, *, tag: str, sharded: bool, ping_every: float = 1.0, dead_after: float = 3.0) -> None:
        assert len(tag) == TAG_LENGTH
        self.client: Any = None
        self.tag = tag.encode() + b" "
        self.sharded = sharded
        self.ping_every = ping_every
        self.dead_after = dead_after
        self.wanted: set[str] = set()
        self.echoes = 0  # own events dropped unread
        self._items: list[FeedItem] = []
        self._ready = asyncio.Event()
        self._dirty = asyncio.Event()
        self._failure: asyncio.Future[None] | None = None
        self._where: dict[bytes, _Subscriber] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self._waiting: set[bytes] | None = None  # this generation's first subscriptions
        self._generations = 0

    # --- called from Trio (same thread: no bridge crossing) -----------------------------------

    def attach(self, client: Any) -> None:
        """Use this client (redis-py's asyncio ``Redis`` or ``RedisCluster``) from now on."""
        self.client = client
        self._items = []
        self._ready, self._dirty = asyncio.Event(), asyncio.Event()  # bound to the loop at first use

    def follow(self, map_id: str) -> None:
        if map_id not in self.wanted:
            self.wanted.add(map_id)
            self._wake()

    def unfollow(self, map_id: str) -> None:
        if map_id in self.wanted:
            self.wanted.discard(map_id)
            self._wake()

    async def next_batch(self) -> list[FeedItem]:
        """Everything that has arrived since the last call (waits for at least one item)."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        items, self._items = self._items, []
        return items

    # --- the asyncio side -------------------------------------------------------------------

    def _wake(self) -> None:
        self._dirty.set()

    def _put(self, item: FeedItem) -> None:
        self._items.append(item)
        if not self._ready.is_set():
            self._ready.set()

    def _message(self, channel: bytes, data: bytes) -> None:
        if data.startswith(self.tag):
            self.echoes += 1
            return
        if data[:1] != b"{":  # another process's tag
            data = data[TAG_LENGTH + 1 :]
        self._put(RemoteEvent(channel[len(_HEAD) : -len(_TAIL)].decode(), data))

    def _subscribed(self, channel: bytes, wanted: bool) -> None:
        waiting = self._waiting
        if waiting is not None and channel in waiting:
            waiting.discard(channel)
            if wanted and self._generations == 1:
                # The first generation reports no reconnection (nothing was missed before it), so
                # a map followed while it was starting up still needs its own ``Followed``.
                self._put(Followed(channel[len(_HEAD) : -len(_TAIL)].decode()))
            if not waiting:
                self._waiting = None
                self._put(Resubscribed())
        elif wanted:
            self._put(Followed(channel[len(_HEAD) : -len(_TAIL)].decode()))

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._failure is None or self._failure.done():
            return
        exc = task.exception() or RedisConnectionError("redis pub/sub reader ended")
        self._failure.set_exception(exc)

    async def run(self) -> None:
        """One generation of connections; raises when one of them fails."""
        self._failure = asyncio.get_running_loop().create_future()
        self._generations += 1
        try:
            if self.sharded and self._generations > 1:
                await self.client.nodes_manager.initialize()  # the cluster may have changed
            if not self.sharded:
                await self._subscriber_for(b"")  # one connection, followed maps or not: pings
            self._waiting = {channel_of(m) for m in self.wanted}
            if not self._waiting:
                self._waiting = None
                self._put(Resubscribed())
            while True:
                self._dirty.clear()
                await self._sync()
                changed = asyncio.ensure_future(self._dirty.wait())
                either: set[asyncio.Future[Any]] = {changed, self._failure}
                try:
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                if self._failure.done():
                    self._failure.result()  # raises the connection's error
        finally:
            if self._failure.done():
                self._failure.exception()  # retrieved: asyncio would log it as never seen
            self._failure = None
            self._waiting = None
            subscribers, self._subscribers, self._where = list(self._subscribers.values()), {}, {}
            if subscribers:  # bounded: a close that hangs must not hold up the next generation
                closing = asyncio.gather(*(s.close() for s in subscribers), return_exceptions=True)
                await asyncio.wait({closing}, timeout=2.0)

    async def _subscriber_for(self, channel: bytes) -> _Subscriber:
        node = self.client.get_node_from_key(channel) if self.sharded else None
        name = node.name if node is not None else ""
        subscriber = self._subscribers.get(name)
        if subscriber is None:
            if node is not None:
                connection = node.connection_class(**node.connection_kwargs)
            else:
                connection = self.client.connection_pool.make_connection()
            subscriber = self._subscribers[name] = _Subscriber(self, connection)
            await subscriber.start()
        return subscriber

    async def _sync(self) -> None:
        wanted = {channel_of(m) for m in self.wanted}
        for channel in [c for c in self._where if c not in wanted]:
            self._where.pop(channel).want.discard(channel)
        for channel in wanted - self._where.keys():
            subscriber = self._where[channel] = await self._subscriber_for(channel)
            subscriber.want.add(channel)
        for subscriber in list(self._subscribers.values()):
            await subscriber.sync()
